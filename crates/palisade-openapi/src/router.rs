//! Path-template routing: a segment trie where, at each level, a literal
//! segment is tried before a segment with literal parts and template
//! variables (`{id}.json`), which is tried before a whole-segment variable.
//! Backtracking makes `/users/me` match `/users/me` and `/users/42` match
//! `/users/{id}` whatever order the document lists them in.

use regex::Regex;
use std::collections::HashMap;

#[derive(Debug)]
enum Segment {
    Literal(String),
    Variable(String),
    Mixed { regex: Regex, names: Vec<String> },
}

fn parse_segment(segment: &str) -> Segment {
    if !segment.contains('{') {
        return Segment::Literal(segment.to_owned());
    }
    if segment.starts_with('{') && segment.ends_with('}') && segment.matches('{').count() == 1 {
        return Segment::Variable(segment.get(1..segment.len() - 1).unwrap_or("").to_owned());
    }
    let mut pattern = String::from("^");
    let mut names = Vec::new();
    let mut rest = segment;
    while let Some(open) = rest.find('{') {
        pattern.push_str(&regex::escape(rest.get(..open).unwrap_or("")));
        let after = rest.get(open + 1..).unwrap_or("");
        let Some(close) = after.find('}') else {
            pattern.push_str(&regex::escape(rest.get(open..).unwrap_or("")));
            rest = "";
            break;
        };
        names.push(after.get(..close).unwrap_or("").to_owned());
        pattern.push_str("([^/]+?)");
        rest = after.get(close + 1..).unwrap_or("");
    }
    pattern.push_str(&regex::escape(rest));
    pattern.push('$');
    match Regex::new(&pattern) {
        Ok(regex) => Segment::Mixed { regex, names },
        Err(_) => Segment::Literal(segment.to_owned()),
    }
}

#[derive(Debug, Default)]
struct TrieNode {
    literals: HashMap<Box<str>, usize>,
    mixed: Vec<(Regex, Vec<String>, usize)>,
    mixed_keys: Vec<String>,
    variable: Option<(String, usize)>,
    /// Route index ending here.
    route: Option<usize>,
}

/// Maps concrete paths to route indices.
#[derive(Debug)]
pub(crate) struct Router {
    nodes: Vec<TrieNode>,
}

/// A matched route with its template variables, raw (still percent-encoded).
#[derive(Debug)]
pub(crate) struct RouteMatch<'r, 'p> {
    pub(crate) route: usize,
    /// Variable values in template order; names come from each operation's
    /// own template, since `/a/{id}` and `/a/{name}` share one trie path.
    pub(crate) params: Vec<(&'r str, &'p str)>,
}

/// Variable names of a template, in order.
pub(crate) fn template_variables(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = rest.get(open + 1..).unwrap_or("");
        let Some(close) = after.find('}') else { break };
        names.push(after.get(..close).unwrap_or("").to_owned());
        rest = after.get(close + 1..).unwrap_or("");
    }
    names
}

impl Router {
    pub(crate) fn new() -> Self {
        Router {
            nodes: vec![TrieNode::default()],
        }
    }

    /// Inserts a full path template; returns the route index already there
    /// if an equivalent template was inserted before.
    pub(crate) fn insert(&mut self, template: &str, route: usize) -> Option<usize> {
        let mut current = 0usize;
        for raw in template.trim_start_matches('/').split('/') {
            let next = match parse_segment(raw) {
                Segment::Literal(lit) => {
                    let existing = self
                        .nodes
                        .get(current)
                        .and_then(|n| n.literals.get(lit.as_str()).copied());
                    match existing {
                        Some(n) => n,
                        None => {
                            let n = self.push();
                            if let Some(node) = self.nodes.get_mut(current) {
                                node.literals.insert(lit.into_boxed_str(), n);
                            }
                            n
                        }
                    }
                }
                Segment::Variable(name) => {
                    let existing = self
                        .nodes
                        .get(current)
                        .and_then(|n| n.variable.as_ref().map(|(_, i)| *i));
                    match existing {
                        Some(n) => n,
                        None => {
                            let n = self.push();
                            if let Some(node) = self.nodes.get_mut(current) {
                                node.variable = Some((name, n));
                            }
                            n
                        }
                    }
                }
                Segment::Mixed { regex, names } => {
                    let key = raw.to_owned();
                    let existing = self.nodes.get(current).and_then(|n| {
                        n.mixed_keys
                            .iter()
                            .position(|k| *k == key)
                            .and_then(|p| n.mixed.get(p))
                            .map(|m| m.2)
                    });
                    match existing {
                        Some(n) => n,
                        None => {
                            let n = self.push();
                            if let Some(node) = self.nodes.get_mut(current) {
                                node.mixed.push((regex, names, n));
                                node.mixed_keys.push(key);
                            }
                            n
                        }
                    }
                }
            };
            current = next;
        }
        let node = self.nodes.get_mut(current)?;
        match node.route {
            Some(existing) => Some(existing),
            None => {
                node.route = Some(route);
                None
            }
        }
    }

    fn push(&mut self) -> usize {
        self.nodes.push(TrieNode::default());
        self.nodes.len() - 1
    }

    /// The best route for `path` that `accept` takes; when routes match but
    /// none is accepted, the first (most literal) one, with `false`.
    pub(crate) fn lookup<'r, 'p>(
        &'r self,
        path: &'p str,
        accept: &dyn Fn(usize) -> bool,
    ) -> Option<(RouteMatch<'r, 'p>, bool)> {
        let rest = path.strip_prefix('/')?;
        let mut params = Vec::new();
        let mut first_rejected = None;
        match self.walk(0, rest, &mut params, 0, accept, &mut first_rejected) {
            Some(route) => Some((RouteMatch { route, params }, true)),
            None => first_rejected.map(|m| (m, false)),
        }
    }

    fn walk<'r, 'p>(
        &'r self,
        node: usize,
        rest: &'p str,
        params: &mut Vec<(&'r str, &'p str)>,
        depth: usize,
        accept: &dyn Fn(usize) -> bool,
        first_rejected: &mut Option<RouteMatch<'r, 'p>>,
    ) -> Option<usize> {
        if depth > 256 {
            return None;
        }
        let trie = self.nodes.get(node)?;
        let (segment, remainder) = match rest.find('/') {
            Some(i) => (rest.get(..i)?, Some(rest.get(i + 1..)?)),
            None => (rest, None),
        };
        let mut descend = |child: usize, params: &mut Vec<(&'r str, &'p str)>| -> Option<usize> {
            match remainder {
                Some(r) => self.walk(child, r, params, depth + 1, accept, first_rejected),
                None => {
                    let route = self.nodes.get(child)?.route?;
                    if accept(route) {
                        return Some(route);
                    }
                    if first_rejected.is_none() {
                        *first_rejected = Some(RouteMatch {
                            route,
                            params: params.clone(),
                        });
                    }
                    None
                }
            }
        };
        if let Some(child) = trie.literals.get(segment) {
            if let Some(found) = descend(*child, params) {
                return Some(found);
            }
        }
        if segment.is_empty() {
            return None;
        }
        for (regex, names, child) in &trie.mixed {
            if let Some(captures) = regex.captures(segment) {
                let mark = params.len();
                for (i, name) in names.iter().enumerate() {
                    if let Some(m) = captures.get(i + 1) {
                        params.push((name.as_str(), m.as_str()));
                    }
                }
                if let Some(found) = descend(*child, params) {
                    return Some(found);
                }
                params.truncate(mark);
            }
        }
        if let Some((name, child)) = &trie.variable {
            let mark = params.len();
            params.push((name.as_str(), segment));
            if let Some(found) = descend(*child, params) {
                return Some(found);
            }
            params.truncate(mark);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_wins_and_backtracks() {
        let mut r = Router::new();
        fn lookup<'r>(r: &'r Router, p: &'static str) -> Option<RouteMatch<'r, 'static>> {
            r.lookup(p, &|_| true).map(|(m, _)| m)
        }
        r.insert("/users/{id}", 0);
        r.insert("/users/me", 1);
        r.insert("/users/me/{x}/a", 2);
        r.insert("/users/{id}/{y}/b", 3);
        r.insert("/files/{name}.json", 4);
        assert_eq!(lookup(&r, "/users/me").unwrap().route, 1);
        let m = lookup(&r, "/users/42").unwrap();
        assert_eq!((m.route, m.params.clone()), (0, vec![("id", "42")]));
        assert_eq!(lookup(&r, "/users/me/1/a").unwrap().route, 2);
        let m = lookup(&r, "/users/me/1/b").unwrap();
        assert_eq!((m.route, m.params), (3, vec![("id", "me"), ("y", "1")]));
        let m = lookup(&r, "/files/report.json").unwrap();
        assert_eq!((m.route, m.params), (4, vec![("name", "report")]));
        assert!(lookup(&r, "/users/").is_none());
        assert!(lookup(&r, "/users").is_none());
        assert!(lookup(&r, "/nope").is_none());
        // A literal route without the method gives way to a template that has it.
        let only_three = |route: usize| route == 3;
        let (m, accepted) = r.lookup("/users/me/1/b", &only_three).unwrap();
        assert!(accepted);
        assert_eq!(m.route, 3);
        let (m, accepted) = r.lookup("/users/me", &only_three).unwrap();
        assert!(!accepted);
        assert_eq!(m.route, 1);
    }
}
