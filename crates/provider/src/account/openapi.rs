//! The OpenAPI 3.1 document of the account API, generated from the handlers'
//! `#[utoipa::path]` attributes and the wire types of `tessera-api`. The
//! routes and the document come from the same list ([`routes`]), so a
//! served route cannot be missing from the document.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{browsers, devices, helpdesk, me, recovery};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera account API",
        description = "Self-service management of authenticator apps, trusted browsers and recovery codes, \
                       and the help desk's view of users. Bearer access tokens (RFC 9068) of the Tessera provider; \
                       errors are RFC 9457 problem details with a stable `code`."
    ),
    modifiers(&BearerAuth),
    components(schemas(tessera_api::ErrorCode, tessera_api::Problem))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.bearer_format = Some("JWT".to_owned());
        components.add_security_scheme("bearer", SecurityScheme::Http(http));
    }
}

/// Every account API route with its documentation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(me::me))
        .routes(routes!(me::my_activity))
        .routes(routes!(devices::list, devices::start_enrollment))
        .routes(routes!(devices::confirm_enrollment))
        .routes(routes!(devices::rename, devices::delete))
        .routes(routes!(browsers::list, browsers::revoke_all))
        .routes(routes!(browsers::revoke))
        .routes(routes!(recovery::regenerate))
        .routes(routes!(helpdesk::search))
        .routes(routes!(helpdesk::user_devices, helpdesk::reset_devices))
        .routes(routes!(helpdesk::remove_device))
        .routes(routes!(helpdesk::user_browsers, helpdesk::revoke_browsers))
        .routes(routes!(helpdesk::revoke_browser))
        .routes(routes!(helpdesk::user_activity))
}

/// The document as served.
pub fn document() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
}

/// Problem answers shared by many operations (inlined where used).
pub mod responses {
    use tessera_api::Problem;

    /// 401 `unauthorized`.
    #[derive(utoipa::ToResponse)]
    #[response(
        description = "Missing, malformed, expired, revoked or foreign access token (`unauthorized`)",
        content_type = "application/problem+json"
    )]
    pub struct Unauthorized(pub Problem);

    /// 401 `unauthorized` or `step_up_required` (RFC 9470).
    #[derive(utoipa::ToResponse)]
    #[response(
        description = "Invalid access token (`unauthorized`), or a more recent sign-in with a second factor is needed \
                       (`step_up_required`, with `WWW-Authenticate: Bearer error=\"insufficient_user_authentication\", max_age=…`)",
        content_type = "application/problem+json"
    )]
    pub struct StepUpOrUnauthorized(pub Problem);

    /// 403 `forbidden` on help-desk routes.
    #[derive(utoipa::ToResponse)]
    #[response(
        description = "Not a help-desk account; or, for a change, the agent's own account (`forbidden`)",
        content_type = "application/problem+json"
    )]
    pub struct Forbidden(pub Problem);

    /// 400 on help-desk changes.
    #[derive(utoipa::ToResponse)]
    #[response(
        description = "Missing, empty or too long `reason`, or a malformed body (`bad_request`)",
        content_type = "application/problem+json"
    )]
    pub struct MissingReason(pub Problem);

    /// 503 `unavailable`.
    #[derive(utoipa::ToResponse)]
    #[response(
        description = "The provider's store cannot be reached; retry later (`unavailable`)",
        content_type = "application/problem+json"
    )]
    pub struct Unavailable(pub Problem);
}
