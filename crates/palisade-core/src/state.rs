//! Per-transaction state of the detectors: at most one value of each type.
//!
//! A transaction carries a handful of these at most (an authentication
//! outcome, a rate-limit verdict, a score carried between phases), so a short
//! list searched by type beats a hash map: no table to allocate per request,
//! and a lookup compares a few type ids.

use std::any::{Any, TypeId};

/// Values keyed by their type.
#[derive(Default)]
pub struct StateMap {
    entries: Vec<(TypeId, Box<dyn Any + Send + Sync>)>,
}

impl StateMap {
    pub const fn new() -> Self {
        StateMap {
            entries: Vec::new(),
        }
    }

    fn position<T: 'static>(&self) -> Option<usize> {
        let id = TypeId::of::<T>();
        self.entries.iter().position(|(t, _)| *t == id)
    }

    /// Stores `value`, returning the value of the same type it replaces.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        match self.position::<T>() {
            Some(i) => {
                let slot = self.entries.get_mut(i)?;
                let old = std::mem::replace(&mut slot.1, Box::new(value));
                old.downcast::<T>().ok().map(|b| *b)
            }
            None => {
                if self.entries.capacity() == 0 {
                    self.entries.reserve_exact(4);
                }
                self.entries.push((TypeId::of::<T>(), Box::new(value)));
                None
            }
        }
    }

    pub fn get<T: 'static>(&self) -> Option<&T> {
        let i = self.position::<T>()?;
        self.entries.get(i)?.1.downcast_ref()
    }

    pub fn get_mut<T: 'static>(&mut self) -> Option<&mut T> {
        let i = self.position::<T>()?;
        self.entries.get_mut(i)?.1.downcast_mut()
    }

    pub fn remove<T: 'static>(&mut self) -> Option<T> {
        let i = self.position::<T>()?;
        let (_, value) = self.entries.swap_remove(i);
        value.downcast::<T>().ok().map(|b| *b)
    }

    pub fn contains<T: 'static>(&self) -> bool {
        self.position::<T>().is_some()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl std::fmt::Debug for StateMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateMap")
            .field("values", &self.entries.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Score(u32);
    #[derive(Debug, PartialEq)]
    struct Name(String);

    #[test]
    fn one_value_per_type() {
        let mut state = StateMap::new();
        assert!(state.is_empty());
        assert_eq!(state.insert(Score(1)), None);
        assert_eq!(state.insert(Name("a".into())), None);
        assert_eq!(state.insert(Score(2)), Some(Score(1)));
        assert_eq!(state.len(), 2);
        assert_eq!(state.get::<Score>(), Some(&Score(2)));
        state.get_mut::<Name>().unwrap().0.push('b');
        assert_eq!(state.get::<Name>(), Some(&Name("ab".into())));
        assert!(state.contains::<Name>());
        assert_eq!(state.remove::<Score>(), Some(Score(2)));
        assert_eq!(state.remove::<Score>(), None);
        assert_eq!(state.get::<Score>(), None);
        assert_eq!(state.get::<u64>(), None);
        assert_eq!(state.get::<Name>(), Some(&Name("ab".into())));
        assert_eq!(state.len(), 1);
    }

    #[test]
    fn values_are_dropped_with_the_map() {
        let shared = std::sync::Arc::new(());
        let mut state = StateMap::new();
        state.insert(shared.clone());
        assert_eq!(std::sync::Arc::strong_count(&shared), 2);
        drop(state);
        assert_eq!(std::sync::Arc::strong_count(&shared), 1);
    }
}
