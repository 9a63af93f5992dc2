//! JWS request authentication (in progress).
