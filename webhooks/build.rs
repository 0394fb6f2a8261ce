// The query macros (`sqlx::query!` and co.) check each statement against the schema, so the
// migrations and the offline data in .sqlx/ are inputs of this crate. The macros read their
// environment untracked; a new SQLX_OFFLINE_DIR is how scripts/sqlx-prepare has every query
// described again (see that script).
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
    println!("cargo:rerun-if-changed=../.sqlx");
    println!("cargo:rerun-if-env-changed=SQLX_OFFLINE_DIR");
}
