//! Reading and changing a collection (hash, set, list, sorted set) under its key, with its
//! stripe locked: one implementation for every type, which answers WRONGTYPE for the others,
//! creates the value on demand, and deletes it when a change leaves it empty.

use super::Ctx;
use cachet_store::{Hash, Set, Value, ZSet};
use std::collections::VecDeque;

/// What a command found under its key.
pub enum Got<T> {
    WrongType,
    Missing,
    Found(T),
}

/// A value type a key can hold, other than strings.
pub trait Collection: Default {
    fn of(v: &Value) -> Option<&Self>;
    fn of_mut(v: &mut Value) -> Option<&mut Self>;
    fn into_value(self) -> Value;
}

macro_rules! collection {
    ($ty:ty, $variant:ident) => {
        impl Collection for $ty {
            fn of(v: &Value) -> Option<&Self> {
                match v {
                    Value::$variant(c) => Some(c),
                    _ => None,
                }
            }
            fn of_mut(v: &mut Value) -> Option<&mut Self> {
                match v {
                    Value::$variant(c) => Some(c),
                    _ => None,
                }
            }
            fn into_value(self) -> Value {
                Value::$variant(Box::new(self))
            }
        }
    };
}

collection!(Hash, Hash);
collection!(Set, Set);
collection!(VecDeque<Box<[u8]>>, List);
collection!(ZSet, ZSet);

/// Reads the collection at `key`.
pub fn read<C: Collection, T>(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(&C) -> T) -> Got<T> {
    ctx.with_key(key, |s, h, db, now| match s.get(db, h, key, now) {
        None => Got::Missing,
        Some(e) => C::of(&e.value).map_or(Got::WrongType, |c| Got::Found(f(c))),
    })
}

/// Changes the collection at `key` (created empty first when `create`); an emptied one is
/// deleted, and memory accounting follows the change (`Stripe::update`).
pub fn write<C: Collection, T>(
    ctx: &mut Ctx,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut C) -> T,
) -> Got<T> {
    ctx.with_key(key, |s, h, db, now| {
        match s.get(db, h, key, now) {
            Some(e) if C::of(&e.value).is_none() => return Got::WrongType,
            None if !create => return Got::Missing,
            None => {
                s.set(db, h, key, C::default().into_value(), 0, now);
            }
            Some(_) => {}
        }
        let r = s.update(db, h, key, now, |e| f(C::of_mut(&mut e.value).expect("checked above")));
        Got::Found(r.expect("present"))
    })
}
