//! Example relying party: OKslužby – rodina (see `examples/common/mod.rs` and
//! docs/integration.md). `RP_CLIENT_SECRET=… cargo run --example rodina`
mod common;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::run(common::App {
        code: "rodina",
        title: "OKslužby – rodina",
        default_client_id: "oksluzby-rodina",
        default_port: 8092,
    })
    .await
}
