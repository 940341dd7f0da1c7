//! TokenSlipper's admin SPA, rendered in the browser (Leptos CSR) and served by admin-api at `/admin`.
//! It talks to admin-api only through the GraphQL operations in `queries/`, checked against
//! `admin-api/schema.graphql` at compile time.

mod api;
mod app;
mod components;
mod download;
mod format;
mod i18n;
mod list_query;
mod pages;
mod queries;
mod routes;
mod session;
mod time_range;

fn main() {
    console_error_panic_hook_lite();
    leptos::mount::mount_to_body(app::App);
}

/// Panics reach the browser console with their message instead of "unreachable executed".
fn console_error_panic_hook_lite() {
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&info.to_string().into());
    }));
}
