//! The SQLite store through the `Store` trait, on a real database file.

use std::collections::BTreeMap;
use wanwu_model::entity::{ApiToken, Asset, Device, ProductRecord, Role, Tenant};
use wanwu_model::thing::Product;
use wanwu_store::{
    AssetFilter, DeviceFilter, NewDeviceRecord, PageRequest, SqliteStore, Store, StoreError,
    TwinRecord,
};

fn tenant(id: &str) -> Tenant {
    Tenant {
        id: id.into(),
        name: id.to_uppercase(),
        created_at: 1,
        updated_at: 1,
    }
}

fn product(tenant: &str, id: &str) -> ProductRecord {
    ProductRecord {
        tenant: tenant.into(),
        definition: Product {
            id: id.into(),
            name: "P".into(),
            description: None,
            properties: vec![],
            events: vec![],
            commands: vec![],
        },
        retention_days: None,
        created_at: 1,
        updated_at: 1,
    }
}

fn device(tenant: &str, id: &str, product: &str, asset: Option<&str>, n: u8) -> NewDeviceRecord {
    NewDeviceRecord {
        device: Device {
            id: id.into(),
            tenant: tenant.into(),
            product: product.into(),
            name: id.into(),
            tags: BTreeMap::from([("zone".to_string(), format!("z{}", n % 2))]),
            asset: asset.map(Into::into),
            location: None,
            created_at: 1,
            updated_at: 1,
        },
        token_hash: [n; 32],
    }
}

fn asset(tenant: &str, id: &str, parent: Option<&str>) -> Asset {
    Asset {
        id: id.into(),
        tenant: tenant.into(),
        parent: parent.map(Into::into),
        name: id.into(),
        kind: "site".into(),
        location: None,
        created_at: 1,
        updated_at: 1,
    }
}

fn prefix(i: usize) -> String {
    format!("devices[{i}].")
}

async fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("meta.db"))
        .await
        .unwrap()
}

async fn seeded(dir: &tempfile::TempDir) -> SqliteStore {
    let store = open(dir).await;
    for t in ["a", "b"] {
        store.create_tenant(&tenant(t)).await.unwrap();
        store.create_product(t, &product(t, "aq")).await.unwrap();
    }
    store
}

#[tokio::test]
async fn batch_create_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(&dir).await;
    let batch = [
        device("a", "d1", "aq", None, 1),
        device("a", "d2", "missing", None, 2),
    ];
    match store.create_devices("a", &batch, &prefix).await {
        Err(StoreError::MissingReference { path, .. }) => assert_eq!(path, "devices[1].product"),
        other => panic!("{other:?}"),
    }
    let batch = [
        device("a", "d1", "aq", None, 1),
        device("a", "d1", "aq", None, 2),
    ];
    assert!(matches!(
        store.create_devices("a", &batch, &prefix).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    let page = store
        .list_devices("a", &DeviceFilter::default(), &PageRequest::default())
        .await
        .unwrap();
    assert!(page.items.is_empty(), "nothing of a failed batch is kept");
}

#[tokio::test]
async fn tenants_do_not_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(&dir).await;
    store
        .create_devices("a", &[device("a", "d1", "aq", None, 1)], &prefix)
        .await
        .unwrap();
    assert!(matches!(
        store.get_device("b", "d1").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.delete_device("b", "d1").await,
        Err(StoreError::NotFound { .. })
    ));
    // The same id may exist in another tenant.
    store
        .create_devices("b", &[device("b", "d1", "aq", None, 2)], &prefix)
        .await
        .unwrap();
    let auth = store.find_device_by_token(&[2; 32]).await.unwrap().unwrap();
    assert_eq!((auth.tenant.as_str(), auth.device.as_str()), ("b", "d1"));
}

#[tokio::test]
async fn pages_follow_the_cursor_and_filters_apply() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(&dir).await;
    let batch: Vec<_> = (0..25u8)
        .map(|n| device("a", &format!("d{n:02}"), "aq", None, n))
        .collect();
    store.create_devices("a", &batch, &prefix).await.unwrap();
    let mut seen = vec![];
    let mut cursor = None;
    loop {
        let page = store
            .list_devices(
                "a",
                &DeviceFilter::default(),
                &PageRequest {
                    limit: Some(10),
                    cursor: cursor.clone(),
                },
            )
            .await
            .unwrap();
        seen.extend(page.items.into_iter().map(|d| d.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    let zone1 = store
        .list_devices(
            "a",
            &DeviceFilter {
                tag: Some(("zone".into(), "z1".into())),
                ..Default::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(zone1.items.len(), 12);
}

#[tokio::test]
async fn asset_tree_subtree_and_cycles() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(&dir).await;
    store.create_asset(&asset("a", "city", None)).await.unwrap();
    store
        .create_asset(&asset("a", "north", Some("city")))
        .await
        .unwrap();
    store
        .create_asset(&asset("a", "street", Some("north")))
        .await
        .unwrap();
    store
        .create_asset(&asset("a", "south", Some("city")))
        .await
        .unwrap();
    assert!(matches!(
        store.create_asset(&asset("a", "x", Some("nowhere"))).await,
        Err(StoreError::MissingReference { .. })
    ));
    let batch = [
        device("a", "d1", "aq", Some("street"), 1),
        device("a", "d2", "aq", Some("south"), 2),
        device("a", "d3", "aq", None, 3),
    ];
    store.create_devices("a", &batch, &prefix).await.unwrap();
    let ids =
        |page: wanwu_store::Page<Device>| page.items.into_iter().map(|d| d.id).collect::<Vec<_>>();
    let all = PageRequest::default();
    assert_eq!(
        ids(store
            .list_devices_in_subtree("a", "city", &all)
            .await
            .unwrap()),
        ["d1", "d2"]
    );
    assert_eq!(
        ids(store
            .list_devices_in_subtree("a", "north", &all)
            .await
            .unwrap()),
        ["d1"]
    );
    assert!(
        store
            .list_devices_in_subtree("b", "city", &all)
            .await
            .is_err()
    );

    let mut city = store.get_asset("a", "city").await.unwrap();
    city.parent = Some("street".into());
    assert!(matches!(
        store.update_asset(&city).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.delete_asset("a", "north").await,
        Err(StoreError::Conflict(_))
    ));
    let roots = store
        .list_assets(
            "a",
            &AssetFilter {
                roots_only: true,
                ..Default::default()
            },
            &all,
        )
        .await
        .unwrap();
    assert_eq!(roots.items.len(), 1);
}

#[tokio::test]
async fn everything_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = seeded(&dir).await;
        store
            .create_api_token(&wanwu_store::ApiTokenRecord {
                token: ApiToken {
                    id: "t1".into(),
                    tenant: "a".into(),
                    name: "ops".into(),
                    role: Role::Viewer,
                    platform_admin: false,
                    created_at: 1,
                },
                hash: [9; 32],
            })
            .await
            .unwrap();
        store.create_asset(&asset("a", "city", None)).await.unwrap();
        store
            .create_devices("a", &[device("a", "d1", "aq", Some("city"), 1)], &prefix)
            .await
            .unwrap();
        store.close().await;
    }
    let store = open(&dir).await;
    let counts = store.counts().await.unwrap();
    assert_eq!(
        (
            counts.tenants,
            counts.api_tokens,
            counts.products,
            counts.devices,
            counts.assets
        ),
        (2, 1, 2, 1, 1)
    );
    assert_eq!(
        store
            .find_api_token(&[9; 32])
            .await
            .unwrap()
            .unwrap()
            .token
            .role,
        Role::Viewer
    );
    assert_eq!(
        store.get_device("a", "d1").await.unwrap().asset.as_deref(),
        Some("city")
    );
}

#[tokio::test]
async fn deletes_refuse_what_is_still_used() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(&dir).await;
    store
        .create_devices("a", &[device("a", "d1", "aq", None, 1)], &prefix)
        .await
        .unwrap();
    assert!(matches!(
        store.delete_product("a", "aq").await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.delete_tenant("a").await,
        Err(StoreError::Conflict(_))
    ));
    let old = store.delete_device("a", "d1").await.unwrap();
    assert_eq!(old, [1; 32]);
    store.delete_product("a", "aq").await.unwrap();
    store.delete_tenant("a").await.unwrap();
    assert!(store.get_tenant("a").await.is_err());
}

#[tokio::test]
async fn twins_belong_to_existing_devices_and_go_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(&dir).await;
    store
        .create_devices("a", &[device("a", "d1", "aq", None, 1)], &prefix)
        .await
        .unwrap();
    assert_eq!(store.get_twin("a", "d1").await.unwrap(), None);
    let twin = |version| TwinRecord {
        version,
        document: format!("{{\"version\": {version}}}"),
    };
    store.put_twin("a", "d1", &twin(1)).await.unwrap();
    store.put_twin("a", "d1", &twin(2)).await.unwrap();
    assert_eq!(store.get_twin("a", "d1").await.unwrap(), Some(twin(2)));
    for (tenant, device) in [("a", "ghost"), ("b", "d1")] {
        match store.put_twin(tenant, device, &twin(1)).await {
            Err(StoreError::NotFound {
                entity: "device", ..
            }) => {}
            other => panic!("{tenant}/{device}: {other:?}"),
        }
        assert_eq!(store.get_twin(tenant, device).await.unwrap(), None);
    }
    store.delete_device("a", "d1").await.unwrap();
    assert_eq!(store.get_twin("a", "d1").await.unwrap(), None);
}
