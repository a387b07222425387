//! The benchmark's report as text: saturation, latency at fixed rates, idle connections.

use std::fmt;

use super::{FD_HEADROOM, MqttBenchOptions, MqttBenchReport, Outcome, Scenario};

/// `ours / baseline` as a ratio, or `-` when the baseline is zero.
fn ratio(ours: f64, baseline: f64) -> String {
    if baseline > 0.0 {
        format!("{:.2}x", ours / baseline)
    } else {
        "-".into()
    }
}

/// Microseconds as milliseconds.
fn ms(us: u32) -> f64 {
    f64::from(us) / 1000.0
}

impl MqttBenchOptions {
    /// The sizes of the scenarios and runs, in a line.
    pub fn sizes(&self) -> String {
        let loads: Vec<String> = self
            .latency_loads
            .iter()
            .map(|fraction| format!("{:.0}%", fraction * 100.0))
            .collect();
        format!(
            "fan-in {} publishers -> 1 (window {}), fan-out 1 -> {} subscribers (window {}), \
             {}-byte payloads, MQTT 3.1.1; per run {:.1} s warm-up, {:.1} s recorded, up to \
             {:.1} s for late messages; open loop at {} of the lowest saturated rate",
            self.publishers,
            self.fan_in_window,
            self.subscribers,
            self.fan_out_window,
            self.payload,
            self.warmup.as_secs_f64(),
            self.duration.as_secs_f64(),
            self.drain.as_secs_f64(),
            loads.join(" and "),
        )
    }
}

impl MqttBenchReport {
    /// The first and the last broker (the baseline), when there are at least two.
    fn pair(&self) -> Option<(&super::BrokerResult, &super::BrokerResult)> {
        match self.results.as_slice() {
            [ours, .., baseline] => Some((ours, baseline)),
            _ => None,
        }
    }

    fn write_heading(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "MQTT benchmark: {}; a fresh broker per run",
            self.options.sizes()
        )?;
        writeln!(
            f,
            "load average (1/5/15 min) {} at the start, {} at the end; the load generator \
             shares the machine's cores with the broker (its CPU is shown as gen cores)",
            self.load_average[0], self.load_average[1]
        )
    }

    fn write_saturation(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "\nAt saturation (closed loop, windows as above): throughput; latency is not \
             reported here (it is the window's queueing delay)"
        )?;
        writeln!(
            f,
            "{:<22} {:>12} {:>11} {:>9} {:>13} {:>14} {:>10}",
            "scenario / broker",
            "rate",
            "delivered %",
            "lost",
            "broker cores",
            "broker us/msg",
            "gen cores"
        )?;
        for (slot, scenario) in Scenario::ALL.into_iter().enumerate() {
            writeln!(f, "{} ({})", scenario.name(), scenario.unit())?;
            for r in &self.results {
                let s = &r.saturation[slot];
                let cores = s.cores();
                writeln!(
                    f,
                    "  {:<20} {:>12.0} {:>11.3} {:>9} {:>13.2} {:>14.2} {:>10.2}",
                    r.name,
                    s.per_second,
                    s.delivered_percent(),
                    s.lost,
                    cores.broker,
                    s.broker_us_per_message(),
                    cores.generator
                )?;
            }
            if let Some((ours, baseline)) = self.pair() {
                writeln!(
                    f,
                    "  ratio {} / {}: throughput {}, broker cpu per message {}",
                    ours.name,
                    baseline.name,
                    ratio(
                        ours.saturation[slot].per_second,
                        baseline.saturation[slot].per_second
                    ),
                    ratio(
                        ours.saturation[slot].broker_us_per_message(),
                        baseline.saturation[slot].broker_us_per_message()
                    )
                )?;
            }
        }
        Ok(())
    }

    fn write_latency(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "\nOpen loop at fixed offered rates, the same for every broker (a share of the \
             lowest saturated rate): publish-to-delivery latency of every message sent during \
             the recording, from the send time in its payload; lag = the generator's own delay \
             behind its schedule"
        )?;
        writeln!(
            f,
            "{:<22} {:>10} {:>9} {:>9} {:>9} {:>11} {:>8} {:>10} {:>8} {:>8}",
            "scenario / broker",
            "sent/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "delivered %",
            "lost",
            "lag p99 ms",
            "broker c",
            "gen c"
        )?;
        for (level, fraction) in self.options.latency_loads.iter().enumerate() {
            for (slot, scenario) in Scenario::ALL.into_iter().enumerate() {
                writeln!(
                    f,
                    "{} at {:.0}% load: {:.0} {} offered",
                    scenario.name(),
                    fraction * 100.0,
                    self.offered[level][slot],
                    scenario.unit()
                )?;
                for r in &self.results {
                    write_rate_row(f, &r.name, &r.at_rate[level][slot])?;
                }
                if let Some((ours, baseline)) = self.pair() {
                    let (a, b) = (
                        ours.at_rate[level][slot].latency,
                        baseline.at_rate[level][slot].latency,
                    );
                    writeln!(
                        f,
                        "  ratio {} / {}: latency p50 {}, p99 {}, max {}",
                        ours.name,
                        baseline.name,
                        ratio(f64::from(a.p50_us), f64::from(b.p50_us)),
                        ratio(f64::from(a.p99_us), f64::from(b.p99_us)),
                        ratio(f64::from(a.max_us), f64::from(b.max_us))
                    )?;
                }
            }
        }
        Ok(())
    }

    fn write_idle(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held = self.options.idle_connections;
        writeln!(
            f,
            "\nIdle connections: {held} opened per broker (asked for {}; open-file limit {}, \
             less {FD_HEADROOM} kept free; with a limit of at least {} this command opens all {})",
            self.idle_requested,
            self.open_file_limit,
            self.idle_requested as u64 + FD_HEADROOM,
            self.idle_requested
        )?;
        for r in &self.results {
            writeln!(
                f,
                "  {:<20} held {} of {}, {} answered PINGREQ afterwards; {:.0} bytes of resident \
                 memory per connection (broker cpu {:.1} s, gen cpu {:.1} s)",
                r.name,
                r.idle.connections,
                held,
                r.idle.alive,
                r.idle.bytes_per_connection,
                r.idle_cpu.broker,
                r.idle_cpu.generator
            )?;
        }
        if let Some((ours, baseline)) = self.pair() {
            writeln!(
                f,
                "  ratio {} / {}: memory per connection {}",
                ours.name,
                baseline.name,
                ratio(
                    ours.idle.bytes_per_connection,
                    baseline.idle.bytes_per_connection
                )
            )?;
        }
        Ok(())
    }
}

/// One broker's line of an open-loop run.
fn write_rate_row(f: &mut fmt::Formatter<'_>, name: &str, o: &Outcome) -> fmt::Result {
    let cores = o.cores();
    writeln!(
        f,
        "  {:<20} {:>10.0} {:>9.3} {:>9.3} {:>9.3} {:>11.3} {:>8} {:>10.3} {:>8.2} {:>8.2}",
        name,
        o.sent_per_second,
        ms(o.latency.p50_us),
        ms(o.latency.p99_us),
        ms(o.latency.max_us),
        o.delivered_percent(),
        o.lost,
        ms(o.lag.p99_us),
        cores.broker,
        cores.generator
    )
}

impl fmt::Display for MqttBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_heading(f)?;
        self.write_saturation(f)?;
        self.write_latency(f)?;
        self.write_idle(f)
    }
}
