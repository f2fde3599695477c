//! Test hooks under the platform's scope (not part of the real API):
//! `PUT /<platform>/__sandbox/processing {"processing_ms": N}` sets how long new containers stay
//! `IN_PROGRESS` (400 ms by default; reset restores it), and
//! `POST /<platform>/__sandbox/containers/{id}/expire` expires an unpublished container now,
//! as 24 hours would.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{Flavor, FlavorData};
use crate::state::Shared;

/// Long enough for any test, short enough that a typo cannot stall one for hours.
const MAX_PROCESSING_MS: u64 = 600_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Processing {
    processing_ms: u64,
}

pub(crate) async fn set_processing(
    body: web::Json<Processing>,
    shared: web::Data<Shared>,
    flavor: FlavorData,
) -> HttpResponse {
    let flavor: &Flavor = &flavor;
    let millis = body.processing_ms;
    if millis > MAX_PROCESSING_MS {
        return HttpResponse::BadRequest().json(json!({
            "error": format!("processing_ms must be at most {MAX_PROCESSING_MS}")
        }));
    }
    (flavor.store)(&mut shared.lock()).set_processing(millis);
    HttpResponse::Ok().json(json!({ "processing_ms": millis }))
}

pub(crate) async fn expire(
    path: web::Path<String>,
    shared: web::Data<Shared>,
    flavor: FlavorData,
) -> HttpResponse {
    let flavor: &Flavor = &flavor;
    let id = path.into_inner();
    if (flavor.store)(&mut shared.lock()).expire(&id) {
        HttpResponse::Ok().json(json!({ "id": id, "status": "EXPIRED" }))
    } else {
        HttpResponse::NotFound().json(json!({ "error": "no unpublished container with this id" }))
    }
}
