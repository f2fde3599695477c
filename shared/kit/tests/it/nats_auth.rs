//! Services authenticate to NATS with the credentials in their settings, against a real
//! nats-server that demands them.

use futures::StreamExt;
use herald_kit::Env;
use herald_kit::config::{NatsAuth, NatsConnect};
use herald_testkit::NatsServer;

fn server(password: &str) -> NatsServer {
    NatsServer::start_with(&format!(
        "authorization {{ users = [ {{ user: \"gateway\", password: \"{password}\" }} ] }}"
    ))
    .unwrap()
}

#[tokio::test]
async fn a_service_connects_with_its_configured_user_and_password() {
    let password = uuid::Uuid::new_v4().simple().to_string();
    let nats = server(&password);
    let env = Env::from_pairs([
        ("HERALD_NATS_URL", nats.url()),
        ("HERALD_NATS_USER", "gateway".to_owned()),
        ("HERALD_NATS_PASSWORD", password.clone()),
    ]);
    let connect = NatsConnect::from_env(&env).unwrap();
    assert!(matches!(connect.auth, NatsAuth::UserPassword { .. }));
    assert!(
        !format!("{connect:?}").contains(&password),
        "Debug shows the password"
    );

    let responder = herald_kit::nats::connect(&connect, "responder")
        .await
        .unwrap();
    let mut requests = responder.subscribe("rpc.test.echo").await.unwrap();
    responder.flush().await.unwrap();
    tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            if let Some(reply) = request.reply {
                let _ = responder.publish(reply, request.payload).await;
            }
        }
    });
    let client = herald_kit::nats::connect(&connect, "client").await.unwrap();
    let answer = client
        .request("rpc.test.echo", "ping".into())
        .await
        .unwrap();
    assert_eq!(&answer.payload[..], b"ping");
}

#[tokio::test]
async fn the_server_refuses_a_client_without_the_credentials() {
    let nats = server(&uuid::Uuid::new_v4().simple().to_string());
    // Without retries, so the refusal surfaces as an error instead of a retry loop.
    let anonymous = herald_kit::async_nats::ConnectOptions::new()
        .connect(nats.url())
        .await;
    assert!(anonymous.is_err(), "an anonymous client was let in");
    let wrong = herald_kit::async_nats::ConnectOptions::new()
        .user_and_password("gateway".into(), "not-the-password".into())
        .connect(nats.url())
        .await;
    assert!(wrong.is_err(), "a wrong password was let in");
}

#[test]
fn half_configured_credentials_are_refused_at_start_up() {
    let url = ("HERALD_NATS_URL", "nats://127.0.0.1:4222".to_owned());
    let user_only = Env::from_pairs([url.clone(), ("HERALD_NATS_USER", "gateway".into())]);
    let error = NatsConnect::from_env(&user_only).unwrap_err();
    assert_eq!(error.var, "HERALD_NATS_PASSWORD");
    let both = Env::from_pairs([
        url.clone(),
        ("HERALD_NATS_USER", "gateway".into()),
        ("HERALD_NATS_PASSWORD", "pw".into()),
        ("HERALD_NATS_TOKEN", "tok".into()),
    ]);
    assert_eq!(
        NatsConnect::from_env(&both).unwrap_err().var,
        "HERALD_NATS_TOKEN"
    );
    let token = Env::from_pairs([url, ("HERALD_NATS_TOKEN", "tok".into())]);
    assert!(matches!(
        NatsConnect::from_env(&token).unwrap().auth,
        NatsAuth::Token(_)
    ));
}
