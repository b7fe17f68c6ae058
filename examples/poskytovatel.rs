//! Example relying party: OKslužby – poskytovatel (see `examples/common/mod.rs` and
//! docs/integration.md). `RP_CLIENT_SECRET=… cargo run --example poskytovatel`
mod common;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::run(common::App {
        code: "poskytovatel",
        title: "OKslužby – poskytovatel",
        default_client_id: "oksluzby-poskytovatel",
        default_port: 8091,
    })
    .await
}
