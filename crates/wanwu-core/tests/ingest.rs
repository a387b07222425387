//! The ingest pipeline and telemetry reads on real stores (SQLite metadata, the embedded
//! time-series engine) in a temporary data directory.

use serde_json::json;
use std::time::Duration;
use wanwu_core::telemetry::{AssetParams, DeleteParams, QueryError, SeriesParams};
use wanwu_core::{
    BootstrapOutcome, DevicePrincipal, IngestConfig, IngestError, Platform, Scope, TelemetryOptions,
};
use wanwu_model::Value;
use wanwu_model::entity::{NewAsset, NewDevice, Role};

struct Fixture {
    dir: tempfile::TempDir,
    platform: Platform,
    admin: Scope,
}

fn options() -> TelemetryOptions {
    TelemetryOptions {
        ingest: IngestConfig {
            max_batch_points: 100,
            max_future_skew: Duration::from_secs(60),
        },
        ..TelemetryOptions::default()
    }
}

async fn open(dir: tempfile::TempDir) -> Fixture {
    let platform = Platform::open_with(dir.path(), options()).await.unwrap();
    let secret = match platform
        .bootstrap(Some("wanwu-admin-test-token"))
        .await
        .unwrap()
    {
        BootstrapOutcome::Given | BootstrapOutcome::Existing => "wanwu-admin-test-token",
        BootstrapOutcome::Generated(_) => panic!("the token was given"),
    };
    let principal = platform.authenticate_api_token(secret).await.unwrap();
    Fixture {
        dir,
        platform,
        admin: Scope::own(principal),
    }
}

async fn fixture() -> Fixture {
    let f = open(tempfile::tempdir().unwrap()).await;
    let product = serde_json::from_value(json!({"id": "aq", "name": "Air", "properties": [
        {"id": "pm25", "type": "float", "min": 0, "max": 1000},
        {"id": "count", "type": "int"},
        {"id": "mode", "type": "enum", "values": ["auto", "manual"]},
        {"id": "pos", "type": "geo"}
    ]}))
    .unwrap();
    f.platform
        .registry
        .create_product(&f.admin, product)
        .await
        .unwrap();
    f
}

impl Fixture {
    async fn device(&self, id: &str, asset: Option<&str>) -> DevicePrincipal {
        let input: NewDevice =
            serde_json::from_value(json!({"id": id, "product": "aq", "asset": asset})).unwrap();
        let created = self
            .platform
            .registry
            .create_device(&self.admin, input)
            .await
            .unwrap();
        self.platform
            .authenticate_device(id, &created.token)
            .await
            .unwrap()
    }

    async fn asset(&self, id: &str, parent: Option<&str>) {
        let input: NewAsset = serde_json::from_value(
            json!({"id": id, "name": id.to_uppercase(), "kind": "area", "parent": parent}),
        )
        .unwrap();
        self.platform
            .registry
            .create_asset(&self.admin, input)
            .await
            .unwrap();
    }

    async fn send(&self, device: &DevicePrincipal, payload: serde_json::Value) {
        self.platform
            .ingest_telemetry(device, payload.to_string().as_bytes())
            .await
            .unwrap_or_else(|e| panic!("{payload} rejected: {e}"));
    }

    /// Replaces the properties of product `aq`.
    async fn set_properties(&self, properties: serde_json::Value) {
        let patch = serde_json::from_value(json!({ "properties": properties })).unwrap();
        self.platform
            .registry
            .update_product(&self.admin, "aq", patch)
            .await
            .unwrap();
    }

    async fn raw(&self, device: &str, keys: &str) -> Vec<(i64, Value)> {
        let params = SeriesParams {
            keys: Some(keys.into()),
            from: Some("0".into()),
            ..SeriesParams::default()
        };
        let answer = self
            .platform
            .telemetry
            .query(&self.admin, device, &params)
            .await
            .unwrap();
        answer.series[0]
            .points
            .iter()
            .map(|p| (p.ts, p.value.clone()))
            .collect()
    }
}

fn field_paths(e: &IngestError) -> Vec<String> {
    match e {
        IngestError::Invalid(errors) => errors.0.iter().map(|e| e.path.clone()).collect(),
        other => panic!("expected invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn three_forms_are_stored_and_latest_follows_time_not_arrival() {
    let f = fixture().await;
    let d = f.device("st-1", None).await;
    f.send(
        &d,
        json!({"ts": 2_000, "values": {"pm25": 20.5, "mode": "auto"}}),
    )
    .await;
    f.send(
        &d,
        json!([{"ts": 3_000, "values": {"pm25": 30}}, {"ts": 1_000, "values": {"pm25": 10, "count": 4}}]),
    )
    .await;
    f.send(&d, json!({"pos": {"lat": 31.2, "lon": 121.5}}))
        .await;
    assert_eq!(
        f.raw("st-1", "pm25").await,
        [
            (1_000, Value::Float(10.0)),
            (2_000, Value::Float(20.5)),
            (3_000, Value::Float(30.0))
        ]
    );
    let latest = f.platform.telemetry.latest(&f.admin, "st-1").await.unwrap();
    assert_eq!(latest.values["pm25"].ts, 3_000);
    assert_eq!(latest.values["count"].value, Value::Int(4));
    assert_eq!(latest.values["mode"].value, Value::String("auto".into()));
    assert!(latest.values["pos"].ts > 1_700_000_000_000, "server time");
    // Late data lands in place and leaves the latest value alone.
    f.send(&d, json!({"ts": 500, "values": {"pm25": 5}})).await;
    assert_eq!(f.raw("st-1", "pm25").await[0], (500, Value::Float(5.0)));
    let latest = f.platform.telemetry.latest(&f.admin, "st-1").await.unwrap();
    assert_eq!(latest.values["pm25"].ts, 3_000);
}

#[tokio::test]
async fn invalid_payloads_are_rejected_whole_with_paths() {
    let f = fixture().await;
    let d = f.device("st-1", None).await;
    let e = f
        .platform
        .ingest_telemetry(
            &d,
            br#"[{"ts": 1, "values": {"pm25": 1}}, {"ts": 2, "values": {"pm25": 2000, "nope": 1}}]"#,
        )
        .await
        .unwrap_err();
    assert_eq!(field_paths(&e), ["[1].values.nope", "[1].values.pm25"]);
    assert_eq!((e.http_status(), e.mqtt_reason_code()), (422, 0x99));
    let e = f
        .platform
        .ingest_telemetry(&d, b"{not json")
        .await
        .unwrap_err();
    assert_eq!((e.http_status(), e.code()), (400, "malformed_payload"));
    assert!(f.raw("st-1", "pm25").await.is_empty(), "nothing stored");
    let too_many: Vec<_> = (0..101)
        .map(|i| json!({"ts": i, "values": {"count": i}}))
        .collect();
    let e = f
        .platform
        .ingest_telemetry(&d, json!(too_many).to_string().as_bytes())
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        IngestError::TooManyPoints { got: 101, max: 100 }
    ));
    assert!(f.raw("st-1", "count").await.is_empty(), "nothing stored");
}

#[tokio::test]
async fn timestamps_beyond_the_skew_are_rejected() {
    let f = fixture().await;
    let d = f.device("st-1", None).await;
    let future = wanwu_core::clock::now_ms() + 3_600_000;
    let soon = wanwu_core::clock::now_ms() + 30_000;
    let e = f
        .platform
        .ingest_telemetry(
            &d,
            json!([{"ts": soon, "values": {"pm25": 1}}, {"ts": future, "values": {"pm25": 2}}])
                .to_string()
                .as_bytes(),
        )
        .await
        .unwrap_err();
    assert_eq!(field_paths(&e), ["[1].ts"]);
    assert_eq!(e.reason(), "future_timestamp");
    let e = f
        .platform
        .ingest_telemetry(
            &d,
            json!({"ts": future, "values": {"pm25": 2}})
                .to_string()
                .as_bytes(),
        )
        .await
        .unwrap_err();
    assert_eq!(field_paths(&e), ["ts"]);
    f.send(&d, json!({"ts": soon, "values": {"pm25": 1}})).await;
    f.send(&d, json!({"ts": 1, "values": {"pm25": 1}})).await;
    assert_eq!(f.raw("st-1", "pm25").await.len(), 2);
}

#[tokio::test]
async fn a_product_change_takes_effect_at_once() {
    let f = fixture().await;
    let d = f.device("st-1", None).await;
    f.send(&d, json!({"pm25": 1})).await; // caches the product
    let payload = json!({"ts": 1, "values": {"noise": 40}}).to_string();
    assert!(
        f.platform
            .ingest_telemetry(&d, payload.as_bytes())
            .await
            .is_err()
    );
    f.set_properties(json!([{"id": "pm25", "type": "float"}, {"id": "noise", "type": "int"}]))
        .await;
    f.platform
        .ingest_telemetry(&d, payload.as_bytes())
        .await
        .unwrap();
    assert_eq!(f.raw("st-1", "noise").await, [(1, Value::Int(40))]);
}

#[tokio::test]
async fn pipelined_payloads_are_stored_together_and_judged_one_by_one() {
    let f = fixture().await;
    let d = f.device("st-1", None).await;
    let mut queue = f.platform.ingest.fanout().subscribe("test", 4);
    let payloads: [&[u8]; 4] = [
        br#"{"ts": 1, "values": {"pm25": 1}}"#,
        br#"{"ts": 2, "values": {"pm25": "bad"}}"#,
        br#"[{"ts": 3, "values": {"pm25": 3, "count": 3}}, {"ts": 1, "values": {"pm25": 9}}]"#,
        b"{not json",
    ];
    let results = f.platform.ingest.ingest_many(&d, &payloads).await;
    let outcomes: Vec<Result<usize, &str>> = results
        .iter()
        .map(|r| {
            r.as_ref()
                .map(|receipt| receipt.values)
                .map_err(|e| e.code())
        })
        .collect();
    assert_eq!(
        outcomes,
        [Ok(1), Err("invalid_input"), Ok(3), Err("malformed_payload")]
    );
    assert_eq!(
        f.raw("st-1", "pm25").await,
        [(1, Value::Float(9.0)), (3, Value::Float(3.0))],
        "the later payload wins at equal timestamps; nothing of the rejected ones is stored"
    );
    let batch = queue.recv().await.unwrap();
    let times: Vec<i64> = batch.points.iter().map(|p| p.ts).collect();
    assert_eq!(
        times,
        [1, 3, 1],
        "one batch for the processors, in payload order"
    );
    assert!(queue.try_recv().is_err());
}

#[tokio::test]
async fn a_type_change_refuses_only_the_payload_that_hits_it() {
    let f = fixture().await;
    let d = f.device("st-1", None).await;
    f.send(&d, json!({"ts": 1, "values": {"pm25": 1.5}})).await;
    f.set_properties(json!([{"id": "pm25", "type": "int"}, {"id": "count", "type": "int"}]))
        .await;
    let payloads: [&[u8]; 3] = [
        br#"{"ts": 2, "values": {"count": 2}}"#,
        br#"{"ts": 2, "values": {"pm25": 2}}"#,
        br#"{"ts": 3, "values": {"count": 3}}"#,
    ];
    let results = f.platform.ingest.ingest_many(&d, &payloads).await;
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert_eq!(
        field_paths(results[1].as_ref().unwrap_err()),
        ["values.pm25"]
    );
    assert_eq!(
        f.raw("st-1", "count").await,
        [(2, Value::Int(2)), (3, Value::Int(3))]
    );
    assert_eq!(f.raw("st-1", "pm25").await, [(1, Value::Float(1.5))]);
}

#[tokio::test]
async fn processors_receive_what_was_stored() {
    let f = fixture().await;
    let d = f.device("st-1", None).await;
    let mut queue = f.platform.ingest.fanout().subscribe("test", 4);
    f.send(&d, json!({"ts": 7, "values": {"pm25": 7}})).await;
    let batch = queue.recv().await.unwrap();
    assert_eq!((batch.device.as_str(), batch.points[0].ts), ("st-1", 7));
    let _ = f
        .platform
        .ingest_telemetry(&d, br#"{"pm25": "bad"}"#)
        .await
        .unwrap_err();
    assert!(queue.try_recv().is_err(), "rejected payloads go nowhere");
}

#[tokio::test]
async fn data_and_latest_values_survive_a_restart() {
    let f = fixture().await;
    let d = f.device("st-1", None).await;
    f.send(&d, json!([{"ts": 1_000, "values": {"pm25": 1, "mode": "manual"}}, {"ts": 2_000, "values": {"pm25": 2}}]))
        .await;
    f.platform.shutdown().await;
    let Fixture { dir, platform, .. } = f;
    drop(platform);
    let f = open(dir).await;
    assert_eq!(
        f.raw("st-1", "pm25").await,
        [(1_000, Value::Float(1.0)), (2_000, Value::Float(2.0))]
    );
    let latest = f.platform.telemetry.latest(&f.admin, "st-1").await.unwrap();
    assert_eq!(latest.values["pm25"].ts, 2_000);
    assert_eq!(latest.values["mode"].value, Value::String("manual".into()));
    assert!(f.dir.path().join("tsdb").is_dir());
}

#[tokio::test]
async fn queries_check_their_parameters() {
    let f = fixture().await;
    f.device("st-1", None).await;
    let ask = |params: SeriesParams| {
        let f = &f;
        async move { f.platform.telemetry.query(&f.admin, "st-1", &params).await }
    };
    let bad = |r: Result<_, QueryError>| match r {
        Err(QueryError::BadQuery(m)) => m,
        other => panic!("expected a bad query, got {other:?}"),
    };
    let m = bad(ask(SeriesParams {
        keys: Some("nope".into()),
        ..Default::default()
    })
    .await);
    assert!(m.contains("unknown key"), "{m}");
    let m = bad(ask(SeriesParams {
        from: Some("10".into()),
        to: Some("5".into()),
        ..Default::default()
    })
    .await);
    assert!(m.contains("after"), "{m}");
    let m = bad(ask(SeriesParams {
        from: Some("0".into()),
        to: Some("4000000000000".into()),
        interval: Some("1s".into()),
        ..Default::default()
    })
    .await);
    assert!(m.contains("buckets"), "{m}");
    let m = bad(ask(SeriesParams {
        keys: Some("mode".into()),
        interval: Some("1h".into()),
        ..Default::default()
    })
    .await);
    assert!(m.contains("numbers"), "{m}");
    assert!(matches!(
        f.platform
            .telemetry
            .query(&f.admin, "nobody", &SeriesParams::default())
            .await,
        Err(QueryError::Core(wanwu_core::CoreError::NotFound { .. }))
    ));
}

#[tokio::test]
async fn daily_buckets_follow_the_time_zone() {
    let f = fixture().await;
    let d = f.device("st-1", None).await;
    // 2024-03-01 23:30 and 2024-03-02 00:30 in Shanghai (UTC+8): two local days, one UTC day.
    let late: i64 = 1_709_307_000_000; // 2024-03-01T15:30:00Z
    let early: i64 = 1_709_310_600_000; // 2024-03-01T16:30:00Z
    f.send(
        &d,
        json!([{"ts": late, "values": {"pm25": 10}}, {"ts": early, "values": {"pm25": 30}}]),
    )
    .await;
    let query = |tz: &str| SeriesParams {
        keys: Some("pm25".into()),
        from: Some("2024-03-01T00:00:00+08:00".into()),
        to: Some("2024-03-03T00:00:00+08:00".into()),
        interval: Some("1d".into()),
        tz: Some(tz.into()),
        ..SeriesParams::default()
    };
    let shanghai = f
        .platform
        .telemetry
        .query(&f.admin, "st-1", &query("Asia/Shanghai"))
        .await
        .unwrap();
    let points: Vec<_> = shanghai.series[0]
        .points
        .iter()
        .map(|p| (p.ts, p.value.clone()))
        .collect();
    assert_eq!(
        points,
        [
            (1_709_222_400_000, Value::Float(10.0)), // 2024-03-01T00:00+08:00
            (1_709_308_800_000, Value::Float(30.0)), // 2024-03-02T00:00+08:00
        ]
    );
    let utc = f
        .platform
        .telemetry
        .query(&f.admin, "st-1", &query("UTC"))
        .await
        .unwrap();
    let values: Vec<_> = utc.series[0]
        .points
        .iter()
        .map(|p| p.value.clone())
        .collect();
    assert_eq!(values, [Value::Float(20.0)]);
}

#[tokio::test]
async fn asset_aggregation_pools_devices_per_child() {
    let f = fixture().await;
    f.asset("city", None).await;
    f.asset("north", Some("city")).await;
    f.asset("south", Some("city")).await;
    f.asset("south-park", Some("south")).await;
    let n1 = f.device("n1", Some("north")).await;
    let n2 = f.device("n2", Some("north")).await;
    let s1 = f.device("s1", Some("south-park")).await;
    let c1 = f.device("c1", Some("city")).await;
    let hour: i64 = 3_600_000;
    f.send(
        &n1,
        json!([{"ts": 0, "values": {"pm25": 10}}, {"ts": hour, "values": {"pm25": 40}}]),
    )
    .await;
    f.send(&n2, json!({"ts": 60_000, "values": {"pm25": 20}}))
        .await;
    f.send(&s1, json!({"ts": 0, "values": {"pm25": 100}})).await;
    f.send(&c1, json!({"ts": 0, "values": {"pm25": 7}})).await;
    let params = AssetParams {
        key: Some("pm25".into()),
        interval: Some("1h".into()),
        from: Some("0".into()),
        to: Some((2 * hour).to_string()),
        group: Some("child".into()),
        ..AssetParams::default()
    };
    let answer = f
        .platform
        .telemetry
        .asset_aggregate(&f.admin, "city", &params)
        .await
        .unwrap();
    let groups: Vec<_> = answer
        .groups
        .iter()
        .map(|g| {
            let points: Vec<_> = g.points.iter().map(|p| (p.ts, p.value.clone())).collect();
            (g.asset.as_str(), g.devices, points)
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("city", 1, vec![(0, Value::Float(7.0))]),
            (
                "north",
                2,
                vec![(0, Value::Float(15.0)), (hour, Value::Float(40.0))]
            ),
            ("south", 1, vec![(0, Value::Float(100.0))]),
        ]
    );
    let whole = f
        .platform
        .telemetry
        .asset_aggregate(
            &f.admin,
            "city",
            &AssetParams {
                group: None,
                agg: Some("count".into()),
                ..params.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(whole.groups.len(), 1);
    assert_eq!(whole.groups[0].points[0].value, Value::Int(4));
    let unknown = AssetParams {
        key: Some("nope".into()),
        ..params
    };
    assert!(matches!(
        f.platform
            .telemetry
            .asset_aggregate(&f.admin, "city", &unknown)
            .await,
        Err(QueryError::BadQuery(_))
    ));
}

#[tokio::test]
async fn deletes_need_a_writer_and_refresh_latest_values() {
    let f = fixture().await;
    let d = f.device("st-1", None).await;
    f.send(&d, json!([{"ts": 1, "values": {"pm25": 1}}, {"ts": 2, "values": {"pm25": 2}}, {"ts": 3, "values": {"pm25": 3}}]))
        .await;
    let viewer = Scope::own(wanwu_core::ApiPrincipal {
        role: Role::Viewer,
        ..f.admin.principal.clone()
    });
    let range = DeleteParams {
        keys: Some("pm25".into()),
        from: Some("2".into()),
        to: Some("3".into()),
    };
    assert!(matches!(
        f.platform.telemetry.delete(&viewer, "st-1", &range).await,
        Err(QueryError::Core(wanwu_core::CoreError::Forbidden(_)))
    ));
    assert!(
        f.platform
            .telemetry
            .delete(&f.admin, "st-1", &DeleteParams::default())
            .await
            .is_err()
    );
    f.platform
        .telemetry
        .delete(&f.admin, "st-1", &range)
        .await
        .unwrap();
    assert_eq!(f.raw("st-1", "pm25").await, [(1, Value::Float(1.0))]);
    let latest = f.platform.telemetry.latest(&f.admin, "st-1").await.unwrap();
    assert_eq!(latest.values["pm25"].ts, 1);
}

#[tokio::test]
async fn csv_export_streams_every_point_with_a_header() {
    let f = fixture().await;
    let d = f.device("st-1", None).await;
    for chunk in 0..30 {
        let points: Vec<_> = (0..100)
            .map(|i| json!({"ts": chunk * 100 + i, "values": {"count": chunk * 100 + i}}))
            .collect();
        f.send(&d, json!(points)).await;
    }
    let params = SeriesParams {
        keys: Some("count".into()),
        from: Some("0".into()),
        ..SeriesParams::default()
    };
    let mut export = f
        .platform
        .telemetry
        .export_csv(&f.admin, "st-1", &params)
        .await
        .unwrap();
    let mut text = String::new();
    while let Some(chunk) = export.next_chunk().await {
        text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "ts,key,value");
    assert_eq!(lines.len(), 3_001);
    assert_eq!(lines[1], "0,count,0");
    assert_eq!(lines[3_000], "2999,count,2999");
}
