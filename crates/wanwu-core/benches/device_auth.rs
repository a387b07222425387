//! Device authentication by id and token: from the cache (the hot path of every MQTT
//! CONNECT) against the baseline of the uncached store lookup. Prints the ratio.
//!
//! Run: `cargo bench -p wanwu-core --bench device_auth`

use criterion::{Criterion, criterion_main};
use serde_json::json;
use std::hint::black_box;
use std::time::Instant;
use wanwu_core::token::{self, TokenKind};
use wanwu_core::{BootstrapOutcome, Platform, Scope};
use wanwu_model::entity::NewDevice;

/// Devices registered before measuring, so lookups hit a realistic index and cache.
const DEVICES: usize = 10_000;

struct Setup {
    _dir: tempfile::TempDir,
    platform: Platform,
    devices: Vec<(String, String)>,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let platform = Platform::open(dir.path()).await.expect("open platform");
    let BootstrapOutcome::Generated(secret) = platform.bootstrap(None).await.expect("bootstrap")
    else {
        panic!("fresh data dir")
    };
    let admin = Scope::own(
        platform
            .authenticate_api_token(&secret)
            .await
            .expect("admin"),
    );
    let product = serde_json::from_value(json!({"id": "aq", "name": "Air"})).expect("product");
    platform
        .registry
        .create_product(&admin, product)
        .await
        .expect("create product");
    let mut devices = Vec::with_capacity(DEVICES);
    for chunk in 0..DEVICES / 1000 {
        let batch: Vec<NewDevice> = (0..1000)
            .map(|i| {
                serde_json::from_value(
                    json!({"id": format!("d{}", chunk * 1000 + i), "product": "aq"}),
                )
                .expect("device")
            })
            .collect();
        let created = platform
            .registry
            .create_device_batch(&admin, batch)
            .await
            .expect("batch");
        devices.extend(created.into_iter().map(|d| (d.device.id, d.token)));
    }
    for (id, token) in &devices {
        platform
            .authenticate_device(id, token)
            .await
            .expect("warm cache");
    }
    Setup {
        _dir: dir,
        platform,
        devices,
    }
}

/// Mean time per call of `f` over `n` calls, in µs.
async fn mean_us<F: AsyncFnMut(usize)>(n: usize, mut f: F) -> f64 {
    let start = Instant::now();
    for i in 0..n {
        f(i).await;
    }
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let s = rt.block_on(setup());
    let mut group = c.benchmark_group("device_auth");
    let mut i = 0usize;
    group.bench_function("cached", |b| {
        b.to_async(&rt).iter(|| {
            i = (i + 7919) % s.devices.len();
            let (id, token) = &s.devices[i];
            let platform = &s.platform;
            async move { black_box(platform.authenticate_device(id, token).await.expect("auth")) }
        })
    });
    let mut j = 0usize;
    group.bench_function("store_lookup_baseline", |b| {
        b.to_async(&rt).iter(|| {
            j = (j + 7919) % s.devices.len();
            let (_, token) = &s.devices[j];
            let store = &s.platform.store;
            async move {
                let hash = token::hash(TokenKind::Device, token);
                black_box(store.find_device_by_token(&hash).await.expect("lookup"))
            }
        })
    });
    group.finish();

    let (cached, baseline) = rt.block_on(async {
        let n = 50_000;
        let cached = mean_us(n, async |i| {
            let (id, token) = &s.devices[(i * 7919) % s.devices.len()];
            black_box(s.platform.authenticate_device(id, token).await);
        })
        .await;
        let baseline = mean_us(n / 10, async |i| {
            let (_, token) = &s.devices[(i * 7919) % s.devices.len()];
            let hash = token::hash(TokenKind::Device, token);
            black_box(s.platform.store.find_device_by_token(&hash).await.ok());
        })
        .await;
        (cached, baseline)
    });
    println!(
        "device_auth summary: cached {cached:.2} µs/auth, store lookup baseline {baseline:.2} µs/auth, \
         cache is {:.1}x faster (target < 20 µs)",
        baseline / cached
    );
}

/// The criterion group (in a private module: the macro's function carries no docs).
mod group {
    use criterion::{Criterion, criterion_group};
    criterion_group! {
        name = benches;
        config = Criterion::default().sample_size(50);
        targets = super::bench
    }
}

criterion_main!(group::benches);
