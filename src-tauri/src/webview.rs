//! The web view's engine settings on Linux (WebKitGTK). The app shows one
//! bundled page of its own; what a general-purpose browser enables for the
//! web at large is turned off here. Each setting is either attack surface
//! this page does not use or memory it does not need (DESIGN §8: modest idle
//! memory; BENCHMARKS.md measures it).

/// Environment read by WebKitGTK's processes when they start, set before
/// any of them exists (in `main`). A value the user set wins, so a support
/// session can turn a setting back.
///
/// - `WEBKIT_DISABLE_DMABUF_RENDERER`: the DMA-BUF renderer, on machines
///   without a GPU driver for it (virtual desktops, VMs, remote sessions),
///   renders through Mesa's software GL: ~65 MiB more in the web process
///   for this one-screen app (measured under Xvfb), and on some GPU drivers
///   a blank window. The shared-memory renderer draws the same pages.
/// - `JSC_useJIT=0`: JavaScriptCore interprets instead of compiling to
///   machine code, as Apple's Lockdown Mode does. JIT compilers are where
///   most browser engine exploits live, and this page's script (a few
///   hundred kB, run on clicks) gains nothing a user could notice from
///   them; the web process saves ~7 MiB (JIT code and the compilers' pages).
pub const ENGINE_ENVIRONMENT: [(&str, &str); 2] =
    [("WEBKIT_DISABLE_DMABUF_RENDERER", "1"), ("JSC_useJIT", "0")];

/// The variables of [`ENGINE_ENVIRONMENT`] the user has not set, to be set.
pub fn engine_environment_to_set(
    is_set: impl Fn(&str) -> bool,
) -> impl Iterator<Item = (&'static str, &'static str)> {
    ENGINE_ENVIRONMENT
        .into_iter()
        .filter(move |(name, _)| !is_set(name))
}

/// Turns off, in a created web view, what a browser enables and this page
/// never uses: WebGL and Web Audio (GPU and media code reachable from
/// script), the back/forward page cache (there is no navigation), and the
/// caches sized for browsing many sites.
#[cfg(target_os = "linux")]
pub fn restrict(view: &webkit2gtk::WebView) {
    use webkit2gtk::{CacheModel, SettingsExt, WebContextExt, WebViewExt};
    if let Some(settings) = WebViewExt::settings(view) {
        settings.set_enable_webgl(false);
        settings.set_enable_webaudio(false);
        settings.set_enable_page_cache(false);
    }
    if let Some(context) = view.context() {
        context.set_cache_model(CacheModel::DocumentViewer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_variable_is_set_unless_the_user_set_it() {
        let all: Vec<_> = engine_environment_to_set(|_| false).collect();
        assert_eq!(
            all,
            [("WEBKIT_DISABLE_DMABUF_RENDERER", "1"), ("JSC_useJIT", "0")]
        );
        let kept: Vec<_> = engine_environment_to_set(|name| name == "JSC_useJIT").collect();
        assert_eq!(kept, [("WEBKIT_DISABLE_DMABUF_RENDERER", "1")]);
    }
}
