//! The web view's engine settings on Linux (WebKitGTK). The app shows one
//! bundled page of its own; what a general-purpose browser enables for the
//! web at large is turned off here. Each setting is either attack surface
//! this page does not use or memory it does not need (DESIGN §8: modest idle
//! memory; BENCHMARKS.md measures it).

/// Environment read by GTK and WebKitGTK's processes when they start, set
/// before any of them exists (in `main`). A value the user set wins, so a
/// support session can turn a setting back.
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
/// - `GDK_GL=disable`: GTK's own GL (GLX on X11), which GTK loads at start
///   to choose the window's visual and only a `GtkGLArea` draws with; the
///   app has none. See [`EGL_VENDOR_FILES`] for the other half.
pub const ENGINE_ENVIRONMENT: [(&str, &str); 3] = [
    ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
    ("JSC_useJIT", "0"),
    ("GDK_GL", "disable"),
];

/// The variables of [`ENGINE_ENVIRONMENT`] the user has not set, to be set.
pub fn engine_environment_to_set(
    is_set: impl Fn(&str) -> bool,
) -> impl Iterator<Item = (&'static str, &'static str)> {
    ENGINE_ENVIRONMENT
        .into_iter()
        .filter(move |(name, _)| !is_set(name))
}

/// libglvnd's list of the EGL drivers ("vendors") a process may load.
///
/// With the DMA-BUF renderer off, the web process draws each frame into
/// shared memory and the app's own process copies it to the window with
/// cairo: the app's process never draws with GL. WebKitGTK still opens an
/// EGL display there on the first page load (to tell the web process which
/// GPU to render with), and that loads the system's GL driver: without a GPU
/// driver (Xvfb, VMs, remote desktops) Mesa's llvmpipe and its LLVM, ~20 MiB
/// of the app's process. libglvnd reads this list once per process, at its
/// first EGL call, so `main` makes that call itself with the list empty and
/// then takes the variable out again; the web process, started later with
/// the environment as it is then, loads its driver as usual and picks its
/// GPU itself.
pub const EGL_VENDOR_FILES: &str = "__EGL_VENDOR_LIBRARY_FILENAMES";

/// Whether the app's own process may go without an EGL driver: only when
/// the DMA-BUF renderer is off (WebKit's rule: set to anything but "0"),
/// since that renderer shows the web process's buffers through EGL in the
/// app's process, and only when the user has not chosen libglvnd's drivers
/// themselves.
pub fn app_process_without_egl_driver(var: impl Fn(&str) -> Option<String>) -> bool {
    var("WEBKIT_DISABLE_DMABUF_RENDERER").is_some_and(|value| value != "0")
        && var(EGL_VENDOR_FILES).is_none()
        && var("__EGL_VENDOR_LIBRARY_DIRS").is_none()
}

/// Makes libglvnd settle, in this process, on no EGL driver (see
/// [`EGL_VENDOR_FILES`]), then removes the variable so that the processes
/// started later load theirs. On a system whose libEGL is not libglvnd's the
/// variable means nothing: the app's process keeps its driver, as before.
///
/// # Safety
///
/// Sets and removes an environment variable: call it before any other
/// thread exists.
#[cfg(target_os = "linux")]
pub unsafe fn settle_egl_without_driver() {
    // EGL 1.5: client extensions of EGL_NO_DISPLAY, the call that makes
    // libglvnd load its vendor list without opening any display.
    const EGL_EXTENSIONS: i32 = 0x3055;
    type QueryString = unsafe extern "C" fn(*mut libc::c_void, i32) -> *const libc::c_char;
    // SAFETY: the caller guarantees no other thread reads the environment;
    // libEGL.so.1 is already loaded (WebKitGTK links it), the symbol has
    // EGL's documented signature, and the handle is never closed.
    unsafe {
        std::env::set_var(EGL_VENDOR_FILES, "");
        let library = libc::dlopen(c"libEGL.so.1".as_ptr(), libc::RTLD_NOW);
        let symbol = if library.is_null() {
            std::ptr::null_mut()
        } else {
            libc::dlsym(library, c"eglQueryString".as_ptr())
        };
        if !symbol.is_null() {
            let query_string: QueryString = std::mem::transmute(symbol);
            query_string(std::ptr::null_mut(), EGL_EXTENSIONS);
        }
        std::env::remove_var(EGL_VENDOR_FILES);
    }
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
            [
                ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
                ("JSC_useJIT", "0"),
                ("GDK_GL", "disable")
            ]
        );
        let kept: Vec<_> = engine_environment_to_set(|name| name == "JSC_useJIT").collect();
        assert_eq!(
            kept,
            [
                ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
                ("GDK_GL", "disable")
            ]
        );
    }

    fn environment<'a>(set: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| {
            set.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_app_process_goes_without_egl_only_with_the_shared_memory_renderer() {
        let chosen = |set: &[(&str, &str)]| app_process_without_egl_driver(environment(set));
        assert!(chosen(&[("WEBKIT_DISABLE_DMABUF_RENDERER", "1")]));
        // WebKit reads any value but "0" as "off".
        assert!(chosen(&[("WEBKIT_DISABLE_DMABUF_RENDERER", "yes")]));
        // The DMA-BUF renderer shows its buffers through EGL in this process.
        assert!(!chosen(&[("WEBKIT_DISABLE_DMABUF_RENDERER", "0")]));
        assert!(!chosen(&[]));
        // The user chose libglvnd's drivers.
        assert!(!chosen(&[
            ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
            (
                EGL_VENDOR_FILES,
                "/usr/share/glvnd/egl_vendor.d/10_nvidia.json"
            )
        ]));
        assert!(!chosen(&[
            ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
            ("__EGL_VENDOR_LIBRARY_DIRS", "/opt/gl")
        ]));
    }
}
