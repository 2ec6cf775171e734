//! Compiles the gRPC protos with a vendored protoc, so a build needs no system protoc.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; nothing else reads the environment concurrently.
    unsafe { std::env::set_var("PROTOC", protoc) };
    tonic_prost_build::configure()
        .type_attribute(
            "freshet.v1.GenerateTrainingSetRequest",
            "#[derive(serde::Deserialize)] #[serde(default, deny_unknown_fields)]",
        )
        .field_attribute(
            "freshet.v1.GenerateTrainingSetRequest.labels_arrow_ipc",
            "#[serde(deserialize_with = \"crate::server::ticket::labels_arrow_ipc\")]",
        )
        .compile_protos(&["proto/freshet/v1/feature_store.proto"], &["proto"])?;
    Ok(())
}
