//! The admin token for this browser tab. It is kept in `sessionStorage`: it survives reloads and
//! deep links, and is gone when the tab closes.

use leptos::prelude::*;

const STORAGE_KEY: &str = "tokenslipper.adminToken";

#[derive(Clone, Copy)]
pub struct Session {
    token: RwSignal<Option<String>>,
    /// Set when admin-api refused the stored token, so the login form can say why it is back.
    expired: RwSignal<bool>,
}

impl Session {
    pub fn restore() -> Session {
        let token = storage().and_then(|s| s.get_item(STORAGE_KEY).ok().flatten()).filter(|t| !t.is_empty());
        Session { token: RwSignal::new(token), expired: RwSignal::new(false) }
    }

    pub fn signed_in(&self) -> bool {
        self.token.with(Option::is_some)
    }

    pub fn expired(&self) -> bool {
        self.expired.get()
    }

    pub fn token_untracked(&self) -> Option<String> {
        self.token.get_untracked()
    }

    pub fn sign_in(&self, token: String) {
        if let Some(storage) = storage() {
            let _ = storage.set_item(STORAGE_KEY, &token);
        }
        self.expired.set(false);
        self.token.set(Some(token));
    }

    pub fn sign_out(&self) {
        if let Some(storage) = storage() {
            let _ = storage.remove_item(STORAGE_KEY);
        }
        self.token.set(None);
    }

    /// admin-api answered 401: back to the login form, with a word about why.
    pub fn refused(&self) {
        self.expired.set(true);
        self.sign_out();
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}
