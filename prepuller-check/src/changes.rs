//! A JSON patch as readable lines, for the report.

use serde_json::Value;

/// The patch as readable lines: `spec.template.spec.serviceAccountName: "default" ->
/// "hook-image-puller"`, `(unset)` for what was not there and `(removed)` for what goes.
pub fn changes(object: &Value, patch: &json_patch::Patch) -> Vec<String> {
    use json_patch::PatchOperation as Op;
    let mut out = Vec::new();
    let mut current = object.clone();
    for op in &patch.0 {
        let (path, after) = match op {
            Op::Add(a) => (a.path.to_string(), Some(&a.value)),
            Op::Replace(r) => (r.path.to_string(), Some(&r.value)),
            Op::Remove(r) => (r.path.to_string(), None),
            Op::Move(m) => (m.path.to_string(), None),
            Op::Copy(c) => (c.path.to_string(), None),
            Op::Test(_) => continue,
        };
        let before = current.pointer(&path).cloned();
        let is_add_to_array = matches!(op, Op::Add(_))
            && path
                .rsplit_once('/')
                .and_then(|(parent, _)| current.pointer(parent))
                .is_some_and(Value::is_array);
        let before = if is_add_to_array { None } else { before };
        out.push(format!(
            "{}: {} -> {}",
            dotted(&current, &path),
            before.as_ref().map_or("(unset)".into(), short),
            after.map_or("(removed)".into(), short)
        ));
        let _ = json_patch::patch(&mut current, &json_patch::Patch(vec![op.clone()]));
    }
    out
}

/// A JSON pointer as a field path: `/spec/volumes/2` -> `spec.volumes[2]`.
fn dotted(object: &Value, pointer: &str) -> String {
    let mut out = String::new();
    let mut at = object;
    for raw in pointer.split('/').skip(1) {
        let segment = raw.replace("~1", "/").replace("~0", "~");
        match at {
            Value::Array(items) => {
                out.push_str(&format!("[{segment}]"));
                at = segment
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i))
                    .unwrap_or(&Value::Null);
            }
            _ => {
                if !out.is_empty() {
                    out.push('.');
                }
                if segment.contains('.') || segment.contains('/') {
                    out.push_str(&format!("[{segment:?}]"));
                } else {
                    out.push_str(&segment);
                }
                at = at.get(&segment).unwrap_or(&Value::Null);
            }
        }
    }
    out
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 120 {
        let cut: String = text.chars().take(117).collect();
        format!("{cut}...")
    } else {
        text
    }
}
