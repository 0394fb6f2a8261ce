fn main() {
    // `sqlx::migrate!` embeds the migrations at compile time: rebuild when one is added or
    // changed. The query macros (`sqlx::query!` and co.) check each statement against the
    // schema, so the migrations and the offline data in .sqlx/ are their inputs too.
    println!("cargo:rerun-if-changed=../migrations");
    println!("cargo:rerun-if-changed=../.sqlx");
    // The macros read their environment untracked; a new SQLX_OFFLINE_DIR is how
    // scripts/sqlx-prepare has every query described again (see that script).
    println!("cargo:rerun-if-env-changed=SQLX_OFFLINE_DIR");
}
