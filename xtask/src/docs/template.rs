//! The templates' placeholder substitution: `{{name}}` anywhere in a line, and sections on
//! lines of their own, `{{#name}}` … `{{/name}}` (kept when a flag is true, repeated per
//! item of a list) and `{{^name}}` … `{{/name}}` (kept when a flag is false or a list is
//! empty). Anything the values do not name is an error, so a renamed placeholder cannot
//! slip into the output.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail};

/// What a placeholder or a section can stand for.
#[derive(Debug, Clone)]
pub enum Value {
    Text(String),
    Flag(bool),
    List(Vec<Vars>),
}

/// The values a template is filled with.
#[derive(Debug, Clone, Default)]
pub struct Vars(BTreeMap<String, Value>);

impl Vars {
    pub fn new() -> Vars {
        Vars::default()
    }

    pub fn text(mut self, name: &str, value: impl Into<String>) -> Vars {
        self.0.insert(name.to_owned(), Value::Text(value.into()));
        self
    }

    pub fn flag(mut self, name: &str, value: bool) -> Vars {
        self.0.insert(name.to_owned(), Value::Flag(value));
        self
    }

    pub fn list(mut self, name: &str, items: Vec<Vars>) -> Vars {
        self.0.insert(name.to_owned(), Value::List(items));
        self
    }
}

/// A template parsed into lines and sections.
#[derive(Debug)]
enum Node<'t> {
    Line(&'t str),
    Section {
        name: &'t str,
        inverted: bool,
        body: Vec<Node<'t>>,
    },
}

/// Fills `template` with `vars`.
pub fn fill(template: &str, vars: &Vars) -> anyhow::Result<String> {
    let nodes = parse(template)?;
    let mut out = String::with_capacity(template.len());
    render(&nodes, &mut vec![vars], &mut out)?;
    Ok(out)
}

/// A line that is only a section tag: (sigil, name).
fn section_tag(line: &str) -> Option<(char, &str)> {
    let inner = line.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let sigil = inner
        .chars()
        .next()
        .filter(|c| matches!(c, '#' | '^' | '/'))?;
    Some((sigil, inner[1..].trim()))
}

fn parse(template: &str) -> anyhow::Result<Vec<Node<'_>>> {
    // Each open section: its name, whether inverted, and the nodes gathered so far.
    let mut stack: Vec<(&str, bool, Vec<Node<'_>>)> = vec![("", false, Vec::new())];
    for (number, line) in template.split_inclusive('\n').enumerate() {
        match section_tag(line) {
            Some(('/', name)) => {
                let (open, inverted, body) = stack.pop().expect("the root is never popped");
                if stack.is_empty() || open != name {
                    bail!(
                        "line {}: `{{{{/{name}}}}}` closes no open section",
                        number + 1
                    );
                }
                let parent = &mut stack.last_mut().expect("a parent").2;
                parent.push(Node::Section {
                    name,
                    inverted,
                    body,
                });
            }
            Some((sigil, name)) => stack.push((name, sigil == '^', Vec::new())),
            None => stack.last_mut().expect("a parent").2.push(Node::Line(line)),
        }
    }
    let (open, _, nodes) = stack.pop().expect("the root");
    if !stack.is_empty() {
        bail!("section `{open}` is never closed");
    }
    Ok(nodes)
}

fn lookup<'v>(scopes: &[&'v Vars], name: &str) -> anyhow::Result<&'v Value> {
    scopes
        .iter()
        .rev()
        .find_map(|vars| vars.0.get(name))
        .ok_or_else(|| anyhow!("the template uses `{name}`, which has no value"))
}

fn render(nodes: &[Node<'_>], scopes: &mut Vec<&Vars>, out: &mut String) -> anyhow::Result<()> {
    for node in nodes {
        match node {
            Node::Line(line) => substitute(line, scopes, out)?,
            Node::Section {
                name,
                inverted,
                body,
            } => match (lookup(scopes, name)?, *inverted) {
                (Value::Flag(on), inverted) if *on != inverted => render(body, scopes, out)?,
                (Value::List(items), false) => {
                    for item in items {
                        scopes.push(item);
                        render(body, scopes, out)?;
                        scopes.pop();
                    }
                }
                (Value::List(items), true) if items.is_empty() => render(body, scopes, out)?,
                (Value::Text(_), _) => bail!("`{name}` is text, not a section"),
                _ => {}
            },
        }
    }
    Ok(())
}

fn substitute(line: &str, scopes: &[&Vars], out: &mut String) -> anyhow::Result<()> {
    let mut rest = line;
    while let Some(start) = rest.find("{{") {
        let end = rest[start..]
            .find("}}")
            .ok_or_else(|| anyhow!("unclosed `{{{{` in {line:?}"))?;
        let name = rest[start + 2..start + end].trim();
        match lookup(scopes, name)? {
            Value::Text(text) => {
                out.push_str(&rest[..start]);
                out.push_str(text);
            }
            _ => bail!("`{name}` is a section, not text, in {line:?}"),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str) -> Vars {
        Vars::new().text("name", name)
    }

    #[test]
    fn placeholders_are_replaced_anywhere_in_a_line() {
        let vars = Vars::new().text("who", "world").text("n", "2");
        assert_eq!(
            fill("hello {{who}}, {{ n }} times\n", &vars).unwrap(),
            "hello world, 2 times\n"
        );
    }

    #[test]
    fn sections_keep_or_drop_their_lines_and_the_tag_lines_vanish() {
        let template =
            "a\n{{#on}}\nshown\n{{/on}}\n{{#off}}\nhidden\n{{/off}}\n{{^off}}\nelse\n{{/off}}\nz\n";
        let vars = Vars::new().flag("on", true).flag("off", false);
        assert_eq!(fill(template, &vars).unwrap(), "a\nshown\nelse\nz\n");
    }

    #[test]
    fn list_sections_repeat_per_item_and_see_outer_values() {
        let template =
            "{{#items}}\n  {{prefix}}{{name}}\n{{/items}}\n{{^items}}\nnone\n{{/items}}\n";
        let vars = Vars::new()
            .text("prefix", "- ")
            .list("items", vec![item("a"), item("b")]);
        assert_eq!(fill(template, &vars).unwrap(), "  - a\n  - b\n");
        let empty = Vars::new().text("prefix", "").list("items", vec![]);
        assert_eq!(fill(template, &empty).unwrap(), "none\n");
    }

    #[test]
    fn unknown_names_and_unbalanced_sections_are_errors() {
        let err = fill("{{missing}}\n", &Vars::new()).unwrap_err();
        assert!(err.to_string().contains("`missing`"), "{err}");
        assert!(fill("{{#a}}\nx\n", &Vars::new().flag("a", true)).is_err());
        assert!(fill("x\n{{/a}}\n", &Vars::new()).is_err());
        assert!(fill("{{#a}}\n{{/b}}\n", &Vars::new()).is_err());
        assert!(fill("{{a}\n", &Vars::new().text("a", "x")).is_err());
        assert!(fill("{{a}}\n", &Vars::new().flag("a", true)).is_err());
    }
}
