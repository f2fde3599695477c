//! The route table and the router agree: every declared route exists, protected ones refuse a
//! caller without a token, public ones do not ask for one.

use crate::support::{TestGateway, error_body};
use herald_gateway::http::policy::{Access, ROUTES, Verb, paths};

#[tokio::test]
async fn every_declared_route_is_routed_and_guarded() {
    let gw = TestGateway::start().await;
    let id = uuid::Uuid::new_v4().to_string();
    for route in ROUTES {
        let path = route.path.replace("{id}", &id);
        let request = match route.verb {
            Verb::Get => gw.get(&path),
            Verb::Post => gw.post(&path),
            Verb::Patch => gw.patch(&path),
            Verb::Delete => gw.delete(&path),
        };
        let response = request.send().await.unwrap();
        match route.access {
            Access::Protected { .. } => {
                let body = error_body(response, 401).await;
                assert_eq!(body["error"]["code"], "unauthenticated", "{path}");
            }
            // Reaches the handler: the media origin refuses a name that is no content hash;
            // the others' JSON extractor wants a body.
            Access::Public if route.path == paths::MEDIA => {
                error_body(response, 404).await;
            }
            // An erasure's status takes no body: it reaches the handler, which asks auth
            // (not running here).
            Access::Public if route.path == paths::ERASURE => {
                error_body(response, 503).await;
            }
            Access::Public => {
                error_body(response, 415).await;
            }
        }
    }
}
