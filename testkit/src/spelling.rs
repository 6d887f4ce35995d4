//! Other spellings of the same request: fields no rule reads, which the policy must ignore; and
//! keys in another order or written with `\u` escapes, which no host sends (docs/security.md,
//! "The input contract") but which the module must still answer without trapping.

use serde_json::{Value, json};

use crate::TOKEN_PATH;

/// The prefix of every field [`add_unknown_fields`] adds, so that [`remove_unknown_fields`] can
/// take them out again.
pub const UNKNOWN_PREFIX: &str = "x-unknown-";

/// splitmix64: a small deterministic generator, so that one seed decides every shuffle and every
/// added field (and a failure replays from its seed).
pub struct Mix(pub u64);

impl Mix {
    /// The next number of the sequence the seed decides.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Adds fields no rule reads, with values of every JSON type (some of them shaped like the fields
/// the rules do read). Never to label, annotation or matchLabels maps, whose every key is data,
/// nor inside an automount value, which messages quote, nor to the settings, which refuse
/// unknown keys. What is added to a map depends only on the seed and on where the map sits in
/// the request's `object` or `oldObject`, so that an UPDATE whose two objects hold an equal pod
/// template still holds equal ones: the policy compares them as text (docs/decisions.md).
pub fn add_unknown_fields(v: &mut Value, seed: u64) {
    add_at(v, seed, "", 0);
}

/// A number for the place one step below `place`, through `key` (FNV-1a).
fn below(place: u64, key: &str) -> u64 {
    key.bytes().fold(place ^ 0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn add_at(v: &mut Value, seed: u64, parent_key: &str, place: u64) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                // The two objects of a request count their places from their own roots.
                let at = match (parent_key, k.as_str()) {
                    ("request", "object" | "oldObject") => 0,
                    _ => below(place, k),
                };
                if k != "settings" {
                    add_at(child, seed, k, at);
                }
            }
            let mut mix = Mix(seed ^ place);
            if !matches!(
                parent_key,
                "labels" | "annotations" | "matchLabels" | "automountServiceAccountToken"
            ) && mix.below(3) == 0
            {
                let junk = [
                    json!(null),
                    json!(false),
                    json!(true),
                    json!(-1.5e300),
                    json!("serviceAccountName"),
                    json!([{"serviceAccountToken": {}}, "x"]),
                    json!({"automountServiceAccountToken": true, "mountPath": TOKEN_PATH}),
                ];
                let value = junk[mix.below(junk.len())].clone();
                map.insert(format!("{UNKNOWN_PREFIX}{}", mix.below(1000)), value);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                add_at(item, seed, "", below(place, &i.to_string()));
            }
        }
        _ => {}
    }
}

/// Takes out every field whose key starts with [`UNKNOWN_PREFIX`].
pub fn remove_unknown_fields(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, _| !k.starts_with(UNKNOWN_PREFIX));
            map.values_mut().for_each(remove_unknown_fields);
        }
        Value::Array(items) => items.iter_mut().for_each(remove_unknown_fields),
        _ => {}
    }
}

/// JSON text with every object's keys in a shuffled order, and one key in four (of the ASCII
/// ones) spelled entirely with `\u` escapes.
pub fn write_shuffled(v: &Value, mix: &mut Mix, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            for i in (1..entries.len()).rev() {
                entries.swap(i, mix.below(i + 1));
            }
            out.push('{');
            for (i, (k, child)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if mix.below(4) == 0 && k.is_ascii() {
                    out.push('"');
                    for c in k.chars() {
                        out.push_str(&format!("\\u{:04x}", c as u32));
                    }
                    out.push('"');
                } else {
                    out.push_str(&Value::String(k.clone()).to_string());
                }
                out.push(':');
                write_shuffled(child, mix, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_shuffled(item, mix, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shuffled_spelling_parses_to_the_same_value() {
        let v = json!({"a": [1, {"b": "c", "d": null}], "e\"f": true, "g": {"h": -2.5}});
        for seed in 0..32 {
            let mut text = String::new();
            write_shuffled(&v, &mut Mix(seed), &mut text);
            let back: Value = serde_json::from_str(&text).expect("the shuffled text parses");
            assert_eq!(back, v, "{text}");
        }
    }

    #[test]
    fn equal_objects_get_equal_unknown_fields() {
        let object = json!({"spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}});
        for seed in 0..32 {
            let mut request =
                json!({"request": {"object": object.clone(), "oldObject": object.clone()}});
            add_unknown_fields(&mut request, seed);
            assert_eq!(
                request["request"]["object"],
                request["request"]["oldObject"]
            );
        }
    }

    #[test]
    fn unknown_fields_come_out_again_and_spare_labels() {
        let v =
            json!({"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c"}]}});
        for seed in 0..32 {
            let mut noisy = v.clone();
            add_unknown_fields(&mut noisy, seed);
            assert_eq!(noisy["metadata"]["labels"], json!({"a": "b"}));
            remove_unknown_fields(&mut noisy);
            assert_eq!(noisy, v);
        }
    }
}
