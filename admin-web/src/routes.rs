//! The SPA's addresses. admin-api serves it under `/admin`, and answers every path below with index.html.

pub const BASE: &str = "/admin";

pub fn overview() -> String {
    format!("{BASE}/")
}

pub fn requests(query_string: &str) -> String {
    format!("{BASE}/requests{query_string}")
}

pub fn request(id: &str) -> String {
    format!("{BASE}/request/{id}")
}

pub fn reports(query_string: &str) -> String {
    format!("{BASE}/reports{query_string}")
}

pub fn budgets() -> String {
    format!("{BASE}/budgets")
}

pub fn prices() -> String {
    format!("{BASE}/prices")
}

/// Navigation from code. The router puts its base in front of the path it is given, while the
/// addresses above are full (links need them so), so the base comes off here.
pub fn use_go() -> impl Fn(&str) + Clone {
    let navigate = leptos_router::hooks::use_navigate();
    move |href: &str| navigate(within_base(href), Default::default())
}

fn within_base(href: &str) -> &str {
    match href.strip_prefix(BASE) {
        Some(rest) if rest.starts_with('/') => rest,
        _ => href,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_navigation_leaves_the_base_to_the_router() {
        assert_eq!(within_base(&requests("?page=2")), "/requests?page=2");
        assert_eq!(within_base(&request("abc")), "/request/abc");
        assert_eq!(within_base(&overview()), "/");
        assert_eq!(within_base("/administrator"), "/administrator");
    }
}
