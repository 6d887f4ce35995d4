//! The `io.kubewarden.metadata` custom section: read and written here only.
//!
//! Custom sections are ignored by the runtime, which is why the annotated module behaves exactly
//! like the plain one; kwctl, policy-server and Artifact Hub tooling read the metadata from
//! there. Writing copies every other section byte for byte and replaces an existing metadata
//! section rather than adding a second. Reading refuses a module with two: policy-evaluator
//! believes the first, and which one a reader believes is not something to leave to chance.

use anyhow::{Context, Result, bail};
use wasm_encoder::{CustomSection, RawSection};
use wasmparser::{Encoding, Parser, Payload};

/// The custom section kwctl and policy-server read a policy's metadata from (policy-evaluator's
/// `KUBEWARDEN_CUSTOM_SECTION_METADATA`).
pub const METADATA_SECTION: &str = "io.kubewarden.metadata";

/// One top-level section: its id and its contents as found in the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section<'a> {
    /// The section id; 0 is a custom section.
    pub id: u8,
    /// For custom sections, the name.
    pub name: Option<&'a str>,
    /// For custom sections, what follows the name; for the others, the contents.
    pub data: &'a [u8],
    /// The contents, including a custom section's name.
    pub contents: &'a [u8],
}

/// The module's sections in order. Fails on anything that is not a core wasm module.
pub fn sections(module: &[u8]) -> Result<Vec<Section<'_>>> {
    let mut sections = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload.context("not a valid WebAssembly module")?;
        if let Payload::Version { encoding, .. } = &payload
            && *encoding != Encoding::Module
        {
            bail!("a WebAssembly component, not a core module: Kubewarden runs core modules");
        }
        let (name, data) = match &payload {
            Payload::CustomSection(reader) => (Some(reader.name()), Some(reader.data())),
            _ => (None, None),
        };
        if let Some((id, range)) = payload.as_section() {
            let contents = &module[range];
            sections.push(Section {
                id,
                name,
                data: data.unwrap_or(contents),
                contents,
            });
        }
    }
    if sections.is_empty() && !module.starts_with(b"\0asm") {
        bail!("not a WebAssembly module");
    }
    Ok(sections)
}

/// The metadata JSON, `None` when the module is not annotated; more than one metadata section
/// is an error.
pub fn read_metadata(module: &[u8]) -> Result<Option<&[u8]>> {
    let found: Vec<&[u8]> = sections(module)?
        .into_iter()
        .filter(|s| s.name == Some(METADATA_SECTION))
        .map(|s| s.data)
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        more => bail!(
            "the module has {} {METADATA_SECTION} sections; re-annotate it",
            more.len()
        ),
    }
}

/// The module with `data` as its only metadata section, appended after all other sections
/// (where kwctl puts it too).
pub fn write_metadata(module: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    let sections = sections(module)?;
    let mut out = wasm_encoder::Module::new();
    for section in sections.iter().filter(|s| s.name != Some(METADATA_SECTION)) {
        out.section(&RawSection {
            id: section.id,
            data: section.contents,
        });
    }
    out.section(&CustomSection {
        name: METADATA_SECTION.into(),
        data: data.into(),
    });
    let bytes = out.finish();
    wasmparser::validate(&bytes).context("the annotated module does not validate")?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Metadata;
    use wasm_encoder::{
        CodeSection, ExportKind, ExportSection, Function, FunctionSection, Instruction, TypeSection,
    };

    /// A small module with a function, an export and a `name`-like custom section in between.
    fn module() -> Vec<u8> {
        let mut m = wasm_encoder::Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], [wasm_encoder::ValType::I32]);
        m.section(&types);
        let mut funcs = FunctionSection::new();
        funcs.function(0);
        m.section(&funcs);
        m.section(&CustomSection {
            name: "producers-ish".into(),
            data: b"kept".as_slice().into(),
        });
        let mut exports = ExportSection::new();
        exports.export("answer", ExportKind::Func, 0);
        m.section(&exports);
        let mut code = CodeSection::new();
        let mut f = Function::new([]);
        f.instruction(&Instruction::I32Const(42));
        f.instruction(&Instruction::End);
        code.function(&f);
        m.section(&code);
        m.finish()
    }

    fn with_sections(sections: &[(&str, &[u8])]) -> Vec<u8> {
        let mut m = wasm_encoder::Module::new();
        for (name, data) in sections {
            m.section(&CustomSection {
                name: (*name).into(),
                data: (*data).into(),
            });
        }
        m.finish()
    }

    #[test]
    fn writes_one_section_and_keeps_every_other_byte() {
        let plain = module();
        assert_eq!(read_metadata(&plain).unwrap(), None);
        let annotated = write_metadata(&plain, b"{\"a\":1}").unwrap();
        assert_eq!(read_metadata(&annotated).unwrap().unwrap(), b"{\"a\":1}");
        // The plain module is a prefix: sections are copied verbatim, the new one is last.
        assert_eq!(&annotated[..plain.len()], plain.as_slice());
        let after = sections(&annotated).unwrap();
        assert_eq!(after.last().unwrap().name, Some(METADATA_SECTION));
        assert_eq!(after.last().unwrap().data, b"{\"a\":1}");
        assert_eq!(
            &after[..after.len() - 1],
            sections(&plain).unwrap().as_slice()
        );
    }

    #[test]
    fn re_annotating_replaces_the_section() {
        let once = write_metadata(&module(), b"first").unwrap();
        let twice = write_metadata(&once, b"second").unwrap();
        let names: Vec<_> = sections(&twice)
            .unwrap()
            .iter()
            .filter_map(|s| s.name)
            .collect();
        assert_eq!(names, ["producers-ish", METADATA_SECTION]);
        assert_eq!(read_metadata(&twice).unwrap().unwrap(), b"second");
        assert_eq!(twice, write_metadata(&module(), b"second").unwrap());
    }

    /// What is written is read back as the same metadata, through the one reader.
    #[test]
    fn metadata_round_trips_through_the_section() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../metadata.yml");
        let mut metadata = Metadata::load(&path).unwrap();
        metadata.protocol_version = Some("v1".into());
        let annotated = write_metadata(&module(), &metadata.to_json().unwrap()).unwrap();
        assert_eq!(Metadata::of_module(&annotated).unwrap(), Some(metadata));
        assert_eq!(Metadata::of_module(&module()).unwrap(), None);
    }

    #[test]
    fn duplicated_sections_are_reported() {
        let module = with_sections(&[(METADATA_SECTION, b"a"), (METADATA_SECTION, b"b")]);
        let err = read_metadata(&module).unwrap_err().to_string();
        assert!(err.contains("2 io.kubewarden.metadata sections"), "{err}");
    }

    #[test]
    fn refuses_what_is_not_a_module_or_not_metadata() {
        let err = write_metadata(b"#!/bin/sh\necho hi\n", b"{}").unwrap_err();
        assert!(
            format!("{err:#}").contains("not a valid WebAssembly module"),
            "{err:#}"
        );
        let truncated = &module()[..20];
        assert!(write_metadata(truncated, b"{}").is_err());
        assert!(read_metadata(truncated).is_err());
        assert!(read_metadata(b"not wasm").is_err());
        let err = Metadata::of_module(&with_sections(&[(METADATA_SECTION, b"{")])).unwrap_err();
        assert!(
            err.to_string()
                .contains("the io.kubewarden.metadata section does not hold policy metadata"),
            "{err:#}"
        );
        assert_eq!(
            Metadata::of_module(&with_sections(&[("name", b"\x00")])).unwrap(),
            None
        );
    }
}
