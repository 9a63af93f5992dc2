//! Authoritative DNS (in progress).
