//! The world PKI (in progress).
