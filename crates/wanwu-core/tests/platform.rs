//! The platform on a real SQLite store: authentication and its cache, tenancy, roles,
//! bootstrap.

use serde_json::json;
use wanwu_core::{ApiPrincipal, BootstrapOutcome, CoreError, DEFAULT_TENANT, Platform, Scope};
use wanwu_model::entity::{NewApiToken, NewDevice, NewTenant, Role};

struct Fixture {
    _dir: tempfile::TempDir,
    platform: Platform,
    admin: Scope,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let platform = Platform::open(dir.path()).await.unwrap();
    let BootstrapOutcome::Generated(secret) = platform.bootstrap(None).await.unwrap() else {
        panic!("first start generates the admin token")
    };
    let principal = platform.authenticate_api_token(&secret).await.unwrap();
    assert!(principal.platform_admin);
    let admin = Scope::own(principal);
    let product = serde_json::from_value(
        json!({"id": "aq", "name": "Air", "properties": [{"id": "pm25", "type": "float"}]}),
    )
    .unwrap();
    platform
        .registry
        .create_product(&admin, product)
        .await
        .unwrap();
    Fixture {
        _dir: dir,
        platform,
        admin,
    }
}

fn new_device(id: &str) -> NewDevice {
    serde_json::from_value(json!({"id": id, "product": "aq"})).unwrap()
}

#[tokio::test]
async fn device_authentication_checks_id_and_token_and_follows_changes() {
    let f = fixture().await;
    let reg = &f.platform.registry;
    let created = reg
        .create_device(&f.admin, new_device("st-1"))
        .await
        .unwrap();
    let p = f
        .platform
        .authenticate_device("st-1", &created.token)
        .await
        .unwrap();
    assert_eq!(
        (p.tenant.as_str(), p.device.as_str(), p.product.as_str()),
        (DEFAULT_TENANT, "st-1", "aq")
    );
    // From the cache now, still checked against the id.
    assert!(
        f.platform
            .authenticate_device("st-1", &created.token)
            .await
            .is_some()
    );
    assert_eq!(f.platform.auth.cached_devices(), 1);
    assert!(
        f.platform
            .authenticate_device("st-2", &created.token)
            .await
            .is_none()
    );
    assert!(
        f.platform
            .authenticate_device("st-1", "wwd_wrong")
            .await
            .is_none()
    );

    let rotated = reg.rotate_device_token(&f.admin, "st-1").await.unwrap();
    assert!(
        f.platform
            .authenticate_device("st-1", &created.token)
            .await
            .is_none(),
        "old token dies at once"
    );
    assert!(
        f.platform
            .authenticate_device("st-1", &rotated.token)
            .await
            .is_some()
    );

    reg.delete_device(&f.admin, "st-1").await.unwrap();
    assert!(
        f.platform
            .authenticate_device("st-1", &rotated.token)
            .await
            .is_none(),
        "deleted device is refused"
    );
}

#[tokio::test]
async fn api_tokens_roles_and_tenancy() {
    let f = fixture().await;
    let reg = &f.platform.registry;
    reg.create_tenant(
        &f.admin,
        NewTenant {
            id: "t2".into(),
            name: "Second".into(),
        },
    )
    .await
    .unwrap();
    let viewer = reg
        .create_api_token(
            &f.admin,
            NewApiToken {
                name: "v".into(),
                role: Role::Viewer,
                tenant: Some("t2".into()),
            },
        )
        .await
        .unwrap();
    let principal: ApiPrincipal = f
        .platform
        .authenticate_api_token(&viewer.secret)
        .await
        .unwrap();
    assert_eq!(
        (
            principal.tenant.as_str(),
            principal.role,
            principal.platform_admin
        ),
        ("t2", Role::Viewer, false)
    );
    let scope = reg.scope(principal.clone(), None).await.unwrap();
    assert!(matches!(
        reg.create_device(&scope, new_device("x")).await,
        Err(CoreError::Forbidden(_))
    ));
    assert!(
        matches!(
            reg.get_product(&scope, "aq").await,
            Err(CoreError::NotFound { .. })
        ),
        "other tenant's product is invisible"
    );
    assert!(matches!(
        reg.scope(principal, Some(DEFAULT_TENANT)).await,
        Err(CoreError::Forbidden(_))
    ));
    // The platform admin may act for t2; not for a tenant that does not exist.
    let in_t2 = reg
        .scope(f.admin.principal.clone(), Some("t2"))
        .await
        .unwrap();
    assert_eq!(in_t2.tenant, "t2");
    assert!(matches!(
        reg.scope(f.admin.principal.clone(), Some("nope")).await,
        Err(CoreError::NotFound { .. })
    ));

    reg.delete_api_token(&in_t2, &viewer.token.id)
        .await
        .unwrap();
    assert!(
        f.platform
            .authenticate_api_token(&viewer.secret)
            .await
            .is_none(),
        "deleted token dies at once"
    );
    assert!(matches!(
        reg.delete_api_token(&f.admin, "admin").await,
        Err(CoreError::Conflict(_))
    ));
}

#[tokio::test]
async fn batch_errors_name_the_device_and_write_nothing() {
    let f = fixture().await;
    let reg = &f.platform.registry;
    let mut batch: Vec<_> = (0..5).map(|i| new_device(&format!("d{i}"))).collect();
    batch[3].product = "missing".into();
    match reg.create_device_batch(&f.admin, batch).await {
        Err(CoreError::Invalid(e)) => assert_eq!(e.0[0].path, "devices[3].product"),
        other => panic!("{other:?}"),
    }
    let mut batch: Vec<_> = (0..3).map(|i| new_device(&format!("d{i}"))).collect();
    batch[2].id = Some("d0".into());
    match reg.create_device_batch(&f.admin, batch).await {
        Err(CoreError::Invalid(e)) => assert_eq!(e.0[0].path, "devices[2].id"),
        other => panic!("{other:?}"),
    }
    let page = reg
        .list_devices(&f.admin, &Default::default(), &Default::default())
        .await
        .unwrap();
    assert!(page.items.is_empty());
}

#[tokio::test]
async fn bootstrap_is_once_and_the_given_token_wins() {
    let dir = tempfile::tempdir().unwrap();
    let platform = Platform::open(dir.path()).await.unwrap();
    assert!(matches!(
        platform.bootstrap(None).await.unwrap(),
        BootstrapOutcome::Generated(_)
    ));
    assert_eq!(
        platform.bootstrap(None).await.unwrap(),
        BootstrapOutcome::Existing
    );
    let given = "my-own-admin-token-123";
    assert_eq!(
        platform.bootstrap(Some(given)).await.unwrap(),
        BootstrapOutcome::Given
    );
    assert!(
        platform
            .authenticate_api_token(given)
            .await
            .unwrap()
            .platform_admin
    );
    assert!(matches!(
        platform.bootstrap(Some("short")).await,
        Err(CoreError::Invalid(_))
    ));
}
