//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The shared test data folder; its absence is a test failure, never a skip.
pub fn data_dir() -> PathBuf {
    voxide_testdata::data_dir()
}
