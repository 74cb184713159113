//! ACL users: Redis 7's access-string grammar, the permission check on every command, the
//! ACL LOG, and the descriptions ACL LIST / GETUSER / SAVE print.
//!
//! A user holds a root selector and any number of extra selectors (`(~k* +get)`); a command is
//! allowed when one of them allows the command, every key it names (with the access the
//! command needs: read, write or both) and every channel. Users live in one table shared by all
//! workers; a connection keeps an `Arc` of its user and a copy of the table's epoch, and
//! reloads its user when the epoch moved (one atomic load per command). The default user,
//! unrestricted, skips every check (a boolean).
//!
//! Passwords are kept only as SHA-256 hex digests, as Redis keeps them; they never reach logs,
//! ACL LIST or INFO in clear.

use crate::cmd::{self, CommandSpec, Ctx, Resolved, COMMANDS, SUBCOMMANDS};
use cachet_resp::Args;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, LazyLock, Mutex, RwLock};

/// Redis 7's ACL categories, in the order ACL CAT lists them and the describer tries them.
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

const READ: u8 = 1;
const WRITE: u8 = 2;
const RW: u8 = READ | WRITE;

/// Command ids: [`COMMANDS`] first, then [`SUBCOMMANDS`], then one reserved "future commands"
/// bit that only `+@all` sets (how the describer knows to start from `+@all`).
fn total_ids() -> usize {
    COMMANDS.len() + SUBCOMMANDS.len()
}

fn future_bit() -> usize {
    total_ids()
}

fn spec_of(id: usize) -> &'static CommandSpec {
    cmd::spec_of_id(id)
}

/// Subcommand ids of each top-level command.
static SUB_IDS: LazyLock<Vec<Vec<usize>>> = LazyLock::new(|| {
    let mut v = vec![Vec::new(); COMMANDS.len()];
    for (i, s) in SUBCOMMANDS.iter().enumerate() {
        let parent = s.name.split('|').next().and_then(|p| cmd::lookup(p.as_bytes())).expect("parent exists");
        v[parent].push(COMMANDS.len() + i);
    }
    v
});

/// Whether command `id` is in category `cat` (Redis gives container commands no categories;
/// their subcommands have their own).
fn in_category(id: usize, cat: &str) -> bool {
    if id < COMMANDS.len() && !SUB_IDS[id].is_empty() {
        return false;
    }
    spec_of(id).categories.iter().any(|c| c.strip_prefix('@') == Some(cat))
}

/// Why a rule was refused, with Redis's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    UnknownName,
    Syntax,
    KeysAfterAll,
    ChannelsAfterAll,
    NoSuchPassword,
    BadHash,
    SubcommandFirstArg,
}

impl RuleError {
    pub fn text(self) -> &'static str {
        match self {
            RuleError::UnknownName => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeysAfterAll => {
                "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any \
                 effect. Try 'resetkeys' to start with an empty list of patterns"
            }
            RuleError::ChannelsAfterAll => {
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have \
                 any effect. Try 'resetchannels' to start with an empty list of channels"
            }
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => {
                "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
            }
            RuleError::SubcommandFirstArg => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

/// What one selector allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    bits: Vec<u64>,
    allcommands: bool,
    /// `+select|0`: first arguments allowed for a command that is otherwise denied.
    firstargs: BTreeMap<usize, Vec<Vec<u8>>>,
    allkeys: bool,
    keys: Vec<(Vec<u8>, u8)>,
    allchannels: bool,
    channels: Vec<Vec<u8>>,
}

impl Selector {
    /// Nothing allowed; channels per `acl-pubsub-default`.
    fn new(allchannels: bool) -> Selector {
        Selector {
            bits: vec![0; total_ids() / 64 + 1],
            allcommands: false,
            firstargs: BTreeMap::new(),
            allkeys: false,
            keys: Vec::new(),
            allchannels,
            channels: Vec::new(),
        }
    }

    fn get(&self, id: usize) -> bool {
        self.bits[id / 64] & (1 << (id % 64)) != 0
    }

    fn set_bit(&mut self, id: usize, on: bool) {
        if on {
            self.bits[id / 64] |= 1 << (id % 64);
        } else {
            self.bits[id / 64] &= !(1 << (id % 64));
            self.allcommands = false;
        }
    }

    /// Allows or denies a command; a container's subcommands follow it.
    fn change(&mut self, id: usize, allow: bool) {
        self.set_bit(id, allow);
        self.firstargs.remove(&id);
        if id < COMMANDS.len() {
            for &s in &SUB_IDS[id] {
                self.set_bit(s, allow);
            }
        }
    }

    fn set_category(&mut self, cat: &str, allow: bool) {
        for id in 0..total_ids() {
            if in_category(id, cat) {
                self.change(id, allow);
            }
        }
    }

    fn count_category(&self, cat: &str) -> (usize, usize) {
        let (mut on, mut off) = (0, 0);
        for id in (0..total_ids()).filter(|&id| in_category(id, cat)) {
            if self.get(id) {
                on += 1;
            } else {
                off += 1;
            }
        }
        (on, off)
    }

    /// Applies one selector rule (`~pat`, `+get`, `-@write`, `allkeys`, ...).
    fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let lower = op.to_ascii_lowercase();
        match lower.as_slice() {
            b"allkeys" | b"~*" => {
                self.allkeys = true;
                self.keys.clear();
            }
            b"resetkeys" => {
                self.allkeys = false;
                self.keys.clear();
            }
            b"allchannels" | b"&*" => {
                self.allchannels = true;
                self.channels.clear();
            }
            b"resetchannels" => {
                self.allchannels = false;
                self.channels.clear();
            }
            b"allcommands" | b"+@all" => {
                self.bits.iter_mut().for_each(|w| *w = !0);
                self.allcommands = true;
                self.firstargs.clear();
            }
            b"nocommands" | b"-@all" => {
                self.bits.iter_mut().for_each(|w| *w = 0);
                self.allcommands = false;
                self.firstargs.clear();
            }
            [b'~' | b'%', ..] => self.add_key_pattern(op)?,
            [b'&', ..] => {
                if self.allchannels {
                    return Err(RuleError::ChannelsAfterAll);
                }
                // Channel names keep their case (only the rule keywords are case-blind).
                let channel = &op[1..];
                if !self.channels.iter().any(|c| c == channel) {
                    self.channels.push(channel.to_vec());
                }
            }
            [sign @ (b'+' | b'-'), b'@', cat @ ..] => {
                let cat = std::str::from_utf8(cat).map_err(|_| RuleError::UnknownName)?;
                if !CATEGORIES.contains(&cat) {
                    return Err(RuleError::UnknownName);
                }
                self.set_category(cat, *sign == b'+');
            }
            [b'+', name @ ..] => self.allow_command(name)?,
            [b'-', name @ ..] => {
                let id = command_id(name).ok_or(RuleError::UnknownName)?;
                self.change(id, false);
            }
            _ => return Err(RuleError::Syntax),
        }
        Ok(())
    }

    fn allow_command(&mut self, name: &[u8]) -> Result<(), RuleError> {
        let Some(bar) = name.iter().rposition(|&c| c == b'|') else {
            let id = command_id(name).ok_or(RuleError::UnknownName)?;
            self.change(id, true);
            return Ok(());
        };
        let (base, sub) = (&name[..bar], &name[bar + 1..]);
        let base_id = command_id(base).ok_or(RuleError::UnknownName)?;
        if base_id >= COMMANDS.len() {
            return Err(RuleError::SubcommandFirstArg);
        }
        if sub.is_empty() {
            return Err(RuleError::Syntax);
        }
        if !SUB_IDS[base_id].is_empty() {
            let id = command_id(name).ok_or(RuleError::UnknownName)?;
            self.change(id, true);
        } else {
            let args = self.firstargs.entry(base_id).or_default();
            if !args.iter().any(|a| a.as_slice() == sub) {
                args.push(sub.to_vec());
            }
        }
        Ok(())
    }

    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let (flags, pattern) = if op[0] == b'~' {
            (RW, &op[1..])
        } else {
            let tilde = op.iter().position(|&c| c == b'~').ok_or(RuleError::Syntax)?;
            let mut flags = 0;
            for &c in &op[1..tilde] {
                match c.to_ascii_uppercase() {
                    b'R' => flags |= READ,
                    b'W' => flags |= WRITE,
                    _ => return Err(RuleError::Syntax),
                }
            }
            if flags == 0 {
                return Err(RuleError::Syntax);
            }
            (flags, &op[tilde + 1..])
        };
        if self.allkeys {
            return Err(RuleError::KeysAfterAll);
        }
        if pattern == b"*" && flags == RW {
            self.allkeys = true;
            self.keys.clear();
            return Ok(());
        }
        match self.keys.iter_mut().find(|(p, _)| p == pattern) {
            Some((_, f)) => *f |= flags,
            None => self.keys.push((pattern.to_vec(), flags)),
        }
        Ok(())
    }

    fn key_allowed(&self, key: &[u8], need: u8) -> bool {
        self.allkeys
            || self.keys.iter().any(|(p, f)| f & need == need && cachet_store::glob_match(p, key, false))
    }

    fn channel_allowed(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.allchannels
            || self.channels.iter().any(|p| {
                if is_pattern {
                    p == channel
                } else {
                    cachet_store::glob_match(p, channel, false)
                }
            })
    }

    /// Checks a resolved request against this selector.
    fn check(&self, r: Resolved, args: &Args) -> Result<(), Denied> {
        let id = r.acl_id();
        if !self.allcommands && !self.get(id) {
            let first_ok = r.sub.is_none()
                && args.len() > 1
                && self
                    .firstargs
                    .get(&id)
                    .is_some_and(|v| v.iter().any(|a| a.eq_ignore_ascii_case(args.get(1))));
            if !first_ok {
                return Err(Denied { kind: DenyKind::Command, pos: 0 });
            }
        }
        if !self.allkeys {
            for (pos, need) in key_positions(r.spec(), args) {
                if !self.key_allowed(args.get(pos), need) {
                    return Err(Denied { kind: DenyKind::Key, pos });
                }
            }
        }
        if !self.allchannels {
            for (pos, is_pattern) in channel_positions(r.spec().name, args) {
                if !self.channel_allowed(args.get(pos), is_pattern) {
                    return Err(Denied { kind: DenyKind::Channel, pos });
                }
            }
        }
        Ok(())
    }

    /// The command rules as Redis 7 prints them: `+@all` or `-@all`, then the categories that
    /// fit best, then single commands to make the bitmap exact.
    fn describe_commands(&self) -> String {
        let mut rules = String::new();
        let additive = !self.get(future_bit());
        let mut fake = Selector::new(false);
        if additive {
            rules.push_str("-@all ");
        } else {
            rules.push_str("+@all ");
            fake.apply(b"+@all").expect("valid rule");
        }
        let mut temp = self.clone();
        let mut applied = [false; 21];
        loop {
            let mut best = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0);
            for (j, cat) in CATEGORIES.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (on, off) = temp.count_category(cat);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some(j);
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some(j) = best else { break };
            let cat = CATEGORIES[j];
            fake.set_category(cat, additive);
            temp.set_category(cat, !additive);
            let _ = write!(rules, "{}@{cat} ", if additive { '+' } else { '-' });
            applied[j] = true;
        }
        let emit = |id: usize, fake: &mut Selector, rules: &mut String| {
            let user = self.get(id);
            if user != fake.get(id) {
                let _ = write!(rules, "{}{} ", if user { '+' } else { '-' }, spec_of(id).name);
                fake.change(id, user);
            }
        };
        for idx in 0..COMMANDS.len() {
            emit(idx, &mut fake, &mut rules);
            for &s in &SUB_IDS[idx] {
                emit(s, &mut fake, &mut rules);
            }
            if !self.get(idx) {
                for a in self.firstargs.get(&idx).into_iter().flatten() {
                    let _ = write!(rules, "+{}|{} ", COMMANDS[idx].name, String::from_utf8_lossy(a));
                }
            }
        }
        rules.pop();
        rules
    }

    fn describe_keys(&self) -> String {
        if self.allkeys {
            return "~*".into();
        }
        let pats: Vec<String> = self
            .keys
            .iter()
            .map(|(p, f)| {
                let prefix = match *f {
                    RW => "~",
                    READ => "%R~",
                    _ => "%W~",
                };
                format!("{prefix}{}", String::from_utf8_lossy(p))
            })
            .collect();
        pats.join(" ")
    }

    fn describe_channels(&self) -> String {
        if self.allchannels {
            return "&*".into();
        }
        let pats: Vec<String> =
            self.channels.iter().map(|c| format!("&{}", String::from_utf8_lossy(c))).collect();
        pats.join(" ")
    }

    /// The whole selector as ACL LIST prints it.
    fn describe(&self) -> String {
        let mut s = String::new();
        let keys = self.describe_keys();
        if !keys.is_empty() {
            s.push_str(&keys);
            s.push(' ');
        }
        if self.allchannels {
            s.push_str("&* ");
        } else {
            s.push_str("resetchannels ");
            for c in &self.channels {
                let _ = write!(s, "&{} ", String::from_utf8_lossy(c));
            }
        }
        s.push_str(&self.describe_commands());
        s
    }
}

/// A command or subcommand id by name (`get`, `config|get`), case-insensitively.
fn command_id(name: &[u8]) -> Option<usize> {
    match name.iter().position(|&c| c == b'|') {
        None => cmd::lookup(name),
        Some(bar) => {
            let parent = cmd::lookup(&name[..bar])?;
            cmd::lookup_sub(parent, &name[bar + 1..]).map(|s| COMMANDS.len() + s)
        }
    }
}

/// Where the keys of a request are and the access each needs, from the command's key
/// positions (and its `numkeys` argument), with Redis's key-spec flags reduced to read/write:
/// reading a value needs read, changing it write, both when the command does both.
pub fn key_positions(spec: &CommandSpec, args: &Args) -> Vec<(usize, u8)> {
    let argc = args.len();
    let name = spec.name;
    let mut out = Vec::new();
    let numkeys_at = match name {
        "zunionstore" | "zinterstore" | "zdiffstore" => {
            out.push((1, WRITE));
            Some(2)
        }
        "blmpop" | "bzmpop" => Some(2),
        _ if spec.numkeys => Some(1),
        _ => None,
    };
    if let Some(at) = numkeys_at {
        if at < argc {
            let n = cmd::int_arg(args.get(at)).unwrap_or(0).max(0) as usize;
            let need = if spec.flags.contains(&"write") && !name.ends_with("store") { RW } else { READ };
            for pos in at + 1..(at + 1 + n).min(argc) {
                out.push((pos, need));
            }
        }
        return out;
    }
    if spec.first_key <= 0 {
        return out;
    }
    let last = if spec.last_key < 0 { argc as i32 + spec.last_key } else { spec.last_key };
    let mut i = spec.first_key;
    let mut nth = 0;
    while i <= last && (i as usize) < argc {
        out.push((i as usize, key_access(spec, nth)));
        i += spec.step.max(1);
        nth += 1;
    }
    out
}

/// The access the `nth` key of a command needs.
fn key_access(spec: &CommandSpec, nth: usize) -> u8 {
    let name = spec.name;
    if !spec.flags.contains(&"write") {
        return match name {
            "exists" | "type" | "strlen" | "hlen" | "llen" | "scard" | "zcard" | "hstrlen" | "touch"
            | "dbsize" => 0,
            n if n.starts_with("object|") => 0,
            _ => READ,
        };
    }
    match name {
        "sinterstore" | "sunionstore" | "sdiffstore" | "zrangestore" => {
            if nth == 0 {
                WRITE
            } else {
                READ
            }
        }
        "copy" => {
            if nth == 0 {
                READ
            } else {
                WRITE
            }
        }
        "lmove" | "blmove" | "rpoplpush" | "brpoplpush" | "smove" | "rename" | "renamenx" => {
            if nth == 0 {
                RW
            } else {
                WRITE
            }
        }
        "incr" | "decr" | "incrby" | "decrby" | "incrbyfloat" | "getset" | "getdel" | "getex" | "hincrby"
        | "hincrbyfloat" | "lpop" | "rpop" | "spop" | "zpopmin" | "zpopmax" | "zincrby" | "blpop"
        | "brpop" | "bzpopmin" | "bzpopmax" | "move" => RW,
        _ => WRITE,
    }
}

/// Channel arguments of a pub/sub command and whether each is a pattern.
fn channel_positions(name: &str, args: &Args) -> Vec<(usize, bool)> {
    match name {
        "publish" | "spublish" => vec![(1, false)],
        "subscribe" | "ssubscribe" => (1..args.len()).map(|i| (i, false)).collect(),
        "psubscribe" => (1..args.len()).map(|i| (i, true)).collect(),
        _ => Vec::new(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DenyKind {
    Command = 1,
    Key = 2,
    Channel = 4,
}

/// A refused request: what was refused and the argument that caused it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Denied {
    pub kind: DenyKind,
    pub pos: usize,
}

impl Denied {
    /// The error a refused command gets (without the `-`).
    pub fn noperm_text(&self, r: Resolved) -> String {
        match self.kind {
            DenyKind::Command => {
                format!("NOPERM this user has no permissions to run the '{}' command", r.spec().name)
            }
            DenyKind::Key => {
                "NOPERM this user has no permissions to access one of the keys used as arguments".into()
            }
            DenyKind::Channel => {
                "NOPERM this user has no permissions to access one of the channels used as arguments".into()
            }
        }
    }

    /// ACL DRYRUN's answer for a refused command.
    fn dryrun_text(&self, r: Resolved, args: &Args) -> String {
        let obj = String::from_utf8_lossy(args.get(self.pos));
        match self.kind {
            DenyKind::Command => {
                format!("This user has no permissions to run the '{}' command", r.spec().name)
            }
            DenyKind::Key => format!("This user has no permissions to access the '{obj}' key"),
            DenyKind::Channel => format!("This user has no permissions to access the '{obj}' channel"),
        }
    }

    fn reason(&self) -> &'static str {
        match self.kind {
            DenyKind::Command => "command",
            DenyKind::Key => "key",
            DenyKind::Channel => "channel",
        }
    }
}

/// An ACL user.
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    skip_sanitize: bool,
    sanitize: bool,
    /// SHA-256 digests, lowercase hex, in the order added.
    passwords: Vec<String>,
    root: Selector,
    selectors: Vec<Selector>,
    unrestricted: bool,
}

impl User {
    fn new(name: &str, allchannels: bool) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            skip_sanitize: false,
            sanitize: false,
            passwords: Vec::new(),
            root: Selector::new(allchannels),
            selectors: Vec::new(),
            unrestricted: false,
        }
    }

    /// Redis's `default` user before any configuration: on, nopass, everything allowed.
    fn default_user() -> User {
        let mut u = User::new("default", false);
        for op in ["on", "nopass", "~*", "&*", "+@all"] {
            u.apply(op.as_bytes(), false).expect("valid rules");
        }
        u
    }

    /// Every command, key and channel allowed: the checks can be skipped.
    pub fn unrestricted(&self) -> bool {
        self.unrestricted
    }

    fn refresh(&mut self) {
        self.unrestricted = self.root.allcommands && self.root.allkeys && self.root.allchannels;
    }

    /// Applies one rule (`on`, `>pass`, `(~k* +get)`, `~pat`, ...).
    fn apply(&mut self, op: &[u8], pubsub_all: bool) -> Result<(), RuleError> {
        let lower = op.to_ascii_lowercase();
        match lower.as_slice() {
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"skip-sanitize-payload" => {
                self.skip_sanitize = true;
                self.sanitize = false;
            }
            b"sanitize-payload" => {
                self.sanitize = true;
                self.skip_sanitize = false;
            }
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"clearselectors" => self.selectors.clear(),
            b"reset" => {
                for op in ["resetpass", "resetkeys", "resetchannels"] {
                    self.apply(op.as_bytes(), pubsub_all)?;
                }
                if pubsub_all {
                    self.apply(b"allchannels", pubsub_all)?;
                }
                for op in ["off", "sanitize-payload", "clearselectors", "-@all"] {
                    self.apply(op.as_bytes(), pubsub_all)?;
                }
            }
            [b'>', ..] => {
                let h = hash_password(&op[1..]);
                if !self.passwords.contains(&h) {
                    self.passwords.push(h);
                }
                self.nopass = false;
            }
            [b'#', ..] => {
                let h = valid_hash(&op[1..])?;
                if !self.passwords.contains(&h) {
                    self.passwords.push(h);
                }
                self.nopass = false;
            }
            [b'<', ..] => {
                let h = hash_password(&op[1..]);
                let before = self.passwords.len();
                self.passwords.retain(|p| *p != h);
                if self.passwords.len() == before {
                    return Err(RuleError::NoSuchPassword);
                }
                self.nopass = false;
            }
            [b'!', ..] => {
                let h = valid_hash(&op[1..])?;
                let before = self.passwords.len();
                self.passwords.retain(|p| *p != h);
                if self.passwords.len() == before {
                    return Err(RuleError::NoSuchPassword);
                }
                self.nopass = false;
            }
            [b'(', .., b')'] => {
                let mut s = Selector::new(pubsub_all);
                for rule in op[1..op.len() - 1].split(|&c| c == b' ').filter(|r| !r.is_empty()) {
                    s.apply(rule)?;
                }
                self.selectors.push(s);
            }
            _ => self.root.apply(op)?,
        }
        self.refresh();
        Ok(())
    }

    fn flag_names(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        if self.skip_sanitize {
            f.push("skip-sanitize-payload");
        }
        if self.sanitize {
            f.push("sanitize-payload");
        }
        f
    }

    /// The user's rules as ACL LIST (and ACL SAVE) print them, after `user <name> `.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for f in self.flag_names() {
            s.push_str(f);
            s.push(' ');
        }
        for p in &self.passwords {
            let _ = write!(s, "#{p} ");
        }
        s.push_str(&self.root.describe());
        for sel in &self.selectors {
            let _ = write!(s, " ({})", sel.describe());
        }
        s
    }

    /// Whether `pass` opens this user.
    fn password_ok(&self, pass: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let h = hash_password(pass);
        // Compare with every stored digest, in time independent of where they differ.
        self.passwords.iter().fold(false, |found, p| found | same_secret(p.as_bytes(), h.as_bytes()))
    }

    /// Whether some selector lets this user use `channel` (a pattern for PSUBSCRIBE).
    pub fn channel_permitted(&self, channel: &[u8], is_pattern: bool) -> bool {
        std::iter::once(&self.root).chain(&self.selectors).any(|s| s.channel_allowed(channel, is_pattern))
    }

    /// Checks a request against the root selector and then every other; the most relevant
    /// refusal (channel over key over command, later argument over earlier) is returned.
    pub fn check(&self, r: Resolved, args: &Args) -> Result<(), Denied> {
        let mut worst: Option<Denied> = None;
        for sel in std::iter::once(&self.root).chain(&self.selectors) {
            match sel.check(r, args) {
                Ok(()) => return Ok(()),
                Err(d) => {
                    if worst.is_none_or(|w| d.kind > w.kind || (d.kind == w.kind && d.pos > w.pos)) {
                        worst = Some(d);
                    }
                }
            }
        }
        Err(worst.expect("at least the root selector"))
    }
}

/// SHA-256 of a password, lowercase hex (what Redis stores).
pub fn hash_password(pass: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, pass);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn valid_hash(h: &[u8]) -> Result<String, RuleError> {
    if h.len() != 64 || !h.iter().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c)) {
        return Err(RuleError::BadHash);
    }
    Ok(String::from_utf8_lossy(h).into_owned())
}

/// Compares in time independent of where the inputs differ.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One ACL LOG entry.
struct LogEntry {
    count: u64,
    reason: &'static str,
    context: &'static str,
    object: Vec<u8>,
    username: String,
    created_ms: u64,
    client_info: String,
}

/// Entries alike within this many milliseconds are counted in one (as Redis does).
const LOG_GROUP_MS: u64 = 60_000;

/// The users of a node, shared by all workers.
pub struct Acl {
    users: RwLock<BTreeMap<String, Arc<User>>>,
    epoch: AtomicU64,
    log: Mutex<VecDeque<LogEntry>>,
    pub log_max_len: AtomicUsize,
    /// `acl-pubsub-default allchannels`: new users may use every channel.
    pub pubsub_all: AtomicBool,
}

impl Default for Acl {
    fn default() -> Self {
        let mut users = BTreeMap::new();
        users.insert("default".to_string(), Arc::new(User::default_user()));
        Acl {
            users: RwLock::new(users),
            epoch: AtomicU64::new(0),
            log: Mutex::new(VecDeque::new()),
            log_max_len: AtomicUsize::new(128),
            pubsub_all: AtomicBool::new(false),
        }
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Joins arguments of a selector written across several words (`(~a` `+get)`) into one rule,
/// as ACL SETUSER and the ACL file accept them.
fn merge_selectors(ops: &[&[u8]]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut open: Option<Vec<u8>> = None;
    for &op in ops {
        match open.as_mut() {
            Some(acc) => {
                acc.push(b' ');
                acc.extend_from_slice(op);
                if op.ends_with(b")") {
                    out.push(open.take().expect("open"));
                }
            }
            None if op.starts_with(b"(") && !op.ends_with(b")") => open = Some(op.to_vec()),
            None => out.push(op.to_vec()),
        }
    }
    if let Some(acc) = open {
        let start = String::from_utf8_lossy(&acc);
        let start = start.split(' ').next().unwrap_or("");
        return Err(format!("Unmatched parenthesis in acl selector starting at '{start}'."));
    }
    Ok(out)
}

impl Acl {
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Relaxed)
    }

    pub fn get(&self, name: &str) -> Option<Arc<User>> {
        read(&self.users).get(name).cloned()
    }

    pub fn default_user(&self) -> Arc<User> {
        self.get("default").expect("the default user always exists")
    }

    /// Whether a new connection starts authenticated (the default user is on and nopass).
    pub fn default_open(&self) -> bool {
        let u = self.default_user();
        u.enabled && u.nopass
    }

    /// The user `name` if `pass` opens it.
    pub fn authenticate(&self, name: &[u8], pass: &[u8]) -> Option<Arc<User>> {
        let name = std::str::from_utf8(name).ok()?;
        let u = self.get(name)?;
        u.password_ok(pass).then_some(u)
    }

    /// ACL SETUSER: applies every rule to a copy and stores it only if all succeed.
    pub fn set_user(&self, name: &[u8], ops: &[&[u8]]) -> Result<(), String> {
        if name.iter().any(|&c| c == b' ' || c == 0) {
            return Err("ERR Usernames can't contain spaces or null characters".into());
        }
        let name = String::from_utf8_lossy(name).into_owned();
        let ops = merge_selectors(ops).map_err(|e| format!("ERR {e}"))?;
        let pubsub_all = self.pubsub_all.load(Relaxed);
        let mut users = write(&self.users);
        let mut u = users.get(&name).map(|u| (**u).clone()).unwrap_or_else(|| User::new(&name, pubsub_all));
        for op in &ops {
            u.apply(op, pubsub_all).map_err(|e| {
                format!("ERR Error in ACL SETUSER modifier '{}': {}", String::from_utf8_lossy(op), e.text())
            })?;
        }
        users.insert(name, Arc::new(u));
        self.epoch.fetch_add(1, Relaxed);
        Ok(())
    }

    /// ACL DELUSER: how many were removed. Their connections are the caller's to close.
    pub fn del_users(&self, names: &[&[u8]]) -> Result<usize, String> {
        if names.iter().any(|n| *n == b"default") {
            return Err("ERR The 'default' user cannot be removed".into());
        }
        let mut users = write(&self.users);
        let mut n = 0;
        for name in names {
            if users.remove(&*String::from_utf8_lossy(name)).is_some() {
                n += 1;
            }
        }
        self.epoch.fetch_add(1, Relaxed);
        Ok(n)
    }

    /// `requirepass`: the default user's only password, or nopass when empty (as Redis does).
    pub fn set_requirepass(&self, pass: Option<&str>) {
        let mut users = write(&self.users);
        let mut u = users.get("default").map(|u| (**u).clone()).unwrap_or_else(User::default_user);
        let _ = u.apply(b"resetpass", false);
        match pass {
            Some(p) => {
                let mut op = b">".to_vec();
                op.extend_from_slice(p.as_bytes());
                let _ = u.apply(&op, false);
            }
            None => {
                let _ = u.apply(b"nopass", false);
            }
        }
        users.insert("default".into(), Arc::new(u));
        self.epoch.fetch_add(1, Relaxed);
    }

    /// Every user, one `user <name> <rules>` line each (ACL LIST, ACL SAVE).
    pub fn list(&self) -> Vec<String> {
        read(&self.users).values().map(|u| format!("user {} {}", u.name, u.describe())).collect()
    }

    pub fn names(&self) -> Vec<String> {
        read(&self.users).keys().cloned().collect()
    }

    /// Replaces every user by those of `text` (an ACL file, or the config's `user` lines):
    /// all lines are checked first; any error leaves the users as they were. Without a
    /// `default` line the default user is kept as it is.
    pub fn load(&self, text: &str, origin: &str) -> Result<(), String> {
        let pubsub_all = self.pubsub_all.load(Relaxed);
        let mut next: BTreeMap<String, Arc<User>> = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
            let at = format!("{origin}:{}", n + 1);
            if words[0] != b"user" || words.len() < 2 {
                return Err(format!("{at}: line should start with user keyword"));
            }
            let name = String::from_utf8_lossy(words[1]).into_owned();
            if next.contains_key(&name) {
                return Err(format!("{at}: Duplicate user '{name}' found"));
            }
            let ops = merge_selectors(&words[2..]).map_err(|e| format!("{at}: {e}"))?;
            let mut u = User::new(&name, pubsub_all);
            for op in &ops {
                u.apply(op, pubsub_all).map_err(|e| {
                    format!("{at}: Error in user declaration '{}': {}", String::from_utf8_lossy(op), e.text())
                })?;
            }
            next.insert(name, Arc::new(u));
        }
        let mut users = write(&self.users);
        if !next.contains_key("default") {
            let d = users.get("default").cloned().unwrap_or_else(|| Arc::new(User::default_user()));
            next.insert("default".into(), d);
        }
        *users = next;
        self.epoch.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Adds an entry to the ACL LOG, or counts it in a like entry of the last minute.
    #[allow(clippy::too_many_arguments)]
    pub fn log(
        &self,
        reason: &'static str,
        context: &'static str,
        object: &[u8],
        username: &str,
        info: String,
        now_ms: u64,
    ) {
        let mut log = lock(&self.log);
        if let Some(i) = log.iter().position(|e| {
            e.reason == reason
                && e.context == context
                && e.object == object
                && e.username == username
                && now_ms.saturating_sub(e.created_ms) < LOG_GROUP_MS
        }) {
            let mut e = log.remove(i).expect("found");
            e.count += 1;
            e.created_ms = now_ms;
            e.client_info = info;
            log.push_front(e);
            return;
        }
        log.push_front(LogEntry {
            count: 1,
            reason,
            context,
            object: object.to_vec(),
            username: username.to_string(),
            created_ms: now_ms,
            client_info: info,
        });
        log.truncate(self.log_max_len.load(Relaxed));
    }
}

/// Records a refused command in the ACL LOG.
pub fn log_denied(ctx: &mut Ctx, d: &Denied, r: Resolved, args: &Args, in_multi: bool) {
    let object: Vec<u8> = match d.kind {
        DenyKind::Command => r.spec().name.as_bytes().to_vec(),
        _ => args.get(d.pos).to_vec(),
    };
    let info = crate::cmd::client_info(ctx.node, &ctx.state.handle);
    let context = if in_multi { "multi" } else { "toplevel" };
    ctx.node.acl.log(d.reason(), context, &object, &ctx.state.user.name, info, ctx.now_ms);
}

/// Records a failed AUTH/HELLO in the ACL LOG.
pub fn log_auth_failure(ctx: &mut Ctx, username: &[u8]) {
    let info = crate::cmd::client_info(ctx.node, &ctx.state.handle);
    let context = if ctx.state.multi.is_some() { "multi" } else { "toplevel" };
    let name = String::from_utf8_lossy(username);
    ctx.node.acl.log("auth", context, b"AUTH", &name, info, ctx.now_ms);
}

/// Makes `user` the connection's user (AUTH, HELLO AUTH, a client certificate).
pub fn login(node: &crate::node::Node, state: &mut crate::conn::ClientState, user: Arc<User>) {
    *crate::node::lock_user(&state.handle) = user.name.clone();
    state.unrestricted = user.unrestricted();
    state.user = user;
    state.user_epoch = node.acl.epoch();
    state.authenticated = true;
}

/// Reloads the connection's user after ACL changes; false when the connection must close:
/// its user is gone, or it is subscribed to a channel its user may no longer use (Redis
/// closes both kinds of client).
pub fn revalidate(node: &crate::node::Node, state: &mut crate::conn::ClientState) -> bool {
    let acl = &node.acl;
    state.user_epoch = acl.epoch();
    let Some(u) = acl.get(&state.user.name) else { return false };
    state.unrestricted = u.unrestricted();
    state.user = u;
    if state.unrestricted {
        return true;
    }
    let u = &state.user;
    state.subs.iter().all(|c| u.channel_permitted(c, false))
        && state.ssubs.iter().all(|c| u.channel_permitted(c, false))
        && state.psubs.iter().all(|p| u.channel_permitted(p, true))
}

const HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Print this help.",
];

const NO_ACLFILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify \
     users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration \
     file set) in order to store users in the Redis configuration.";

/// The ACL command.
pub fn command(ctx: &mut Ctx, args: Args) {
    let sub = args.get(1).to_ascii_lowercase();
    let acl = &ctx.node.acl;
    match sub.as_slice() {
        b"whoami" => {
            let name = ctx.state.user.name.clone();
            ctx.w().bulk(name.as_bytes());
        }
        b"users" => {
            let names = acl.names();
            let mut w = ctx.w();
            w.array(names.len());
            for n in names {
                w.bulk(n.as_bytes());
            }
        }
        b"list" => {
            let lines = acl.list();
            let mut w = ctx.w();
            w.array(lines.len());
            for l in lines {
                w.bulk(l.as_bytes());
            }
        }
        b"setuser" => {
            let ops: Vec<&[u8]> = args.iter().skip(3).collect();
            match acl.set_user(args.get(2), &ops) {
                Ok(()) => {
                    // Its connected clients re-check their subscriptions now, not at their next
                    // command (a subscriber may never send one).
                    let name = args.get(2);
                    for h in ctx.node.clients() {
                        if crate::node::lock_user(&h).as_bytes() == name {
                            ctx.node.poke(h.worker, h.slot.load(Relaxed));
                        }
                    }
                    ctx.w().ok()
                }
                Err(e) => ctx.error(&e),
            }
        }
        b"deluser" => {
            let names: Vec<&[u8]> = args.iter().skip(2).collect();
            match acl.del_users(&names) {
                Ok(n) => {
                    kill_clients_of(ctx, &names);
                    ctx.w().integer(n as i64)
                }
                Err(e) => ctx.error(&e),
            }
        }
        b"getuser" => {
            let Some(u) = acl.get(&String::from_utf8_lossy(args.get(2))) else {
                return ctx.w().null();
            };
            getuser(ctx, &u);
        }
        b"cat" => cat(ctx, &args),
        b"genpass" => {
            let bits = if args.len() == 3 {
                match cmd::int_arg(args.get(2)) {
                    Some(b) if (1..=4096).contains(&b) => b as usize,
                    _ => {
                        return ctx.error(
                            "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
                        )
                    }
                }
            } else {
                256
            };
            let hex = crate::node::random_hex(bits.div_ceil(4) + 1);
            ctx.w().bulk(&hex.as_bytes()[..bits.div_ceil(4)]);
        }
        b"dryrun" => dryrun(ctx, &args),
        b"log" => log_command(ctx, &args),
        b"save" => save(ctx),
        b"load" => load(ctx),
        b"help" => {
            ctx.help(HELP);
        }
        _ => ctx.unknown_subcommand(args.get(1), "ACL"),
    }
}

fn kill_clients_of(ctx: &mut Ctx, names: &[&[u8]]) {
    for h in ctx.node.clients() {
        let user = crate::node::lock_user(&h).clone();
        if names.contains(&user.as_bytes()) {
            h.killed.store(true, Relaxed);
            if h.id == ctx.state.handle.id {
                ctx.state.closing = true;
            }
        }
    }
}

fn getuser(ctx: &mut Ctx, u: &User) {
    let flags = u.flag_names();
    let mut w = ctx.w();
    w.map(6);
    w.bulk(b"flags");
    w.set(flags.len());
    for f in flags {
        w.bulk(f.as_bytes());
    }
    w.bulk(b"passwords");
    w.array(u.passwords.len());
    for p in &u.passwords {
        w.bulk(p.as_bytes());
    }
    let describe = |w: &mut cachet_resp::ReplyWriter, s: &Selector| {
        w.bulk(b"commands");
        w.bulk(s.describe_commands().as_bytes());
        w.bulk(b"keys");
        w.bulk(s.describe_keys().as_bytes());
        w.bulk(b"channels");
        w.bulk(s.describe_channels().as_bytes());
    };
    describe(&mut w, &u.root);
    w.bulk(b"selectors");
    w.array(u.selectors.len());
    for s in &u.selectors {
        w.map(3);
        describe(&mut w, s);
    }
}

fn cat(ctx: &mut Ctx, args: &Args) {
    if args.len() == 2 {
        let mut w = ctx.w();
        w.array(CATEGORIES.len());
        for c in CATEGORIES {
            w.bulk(c.as_bytes());
        }
        return;
    }
    if args.len() > 3 {
        return ctx.error("ERR unknown subcommand or wrong number of arguments for 'CAT'. Try ACL HELP.");
    }
    let want = String::from_utf8_lossy(args.get(2)).to_ascii_lowercase();
    if !CATEGORIES.contains(&want.as_str()) {
        return ctx.error(&format!("ERR Unknown category '{}'", String::from_utf8_lossy(args.get(2))));
    }
    let names: Vec<&str> =
        (0..total_ids()).filter(|&id| in_category(id, &want)).map(|id| spec_of(id).name).collect();
    let mut w = ctx.w();
    w.array(names.len());
    for n in names {
        w.bulk(n.as_bytes());
    }
}

fn dryrun(ctx: &mut Ctx, args: &Args) {
    let Some(u) = ctx.node.acl.get(&String::from_utf8_lossy(args.get(2))) else {
        return ctx.error(&format!("ERR User '{}' not found", String::from_utf8_lossy(args.get(2))));
    };
    let inner = args.slice_from(3);
    if cmd::lookup(inner.get(0)).is_none() {
        return ctx.error(&format!("ERR Command '{}' not found", String::from_utf8_lossy(inner.get(0))));
    }
    let r = match cmd::resolve(&inner) {
        Ok(r) => r,
        Err(e) => return ctx.error(&e),
    };
    match u.check(r, &inner) {
        Ok(()) => ctx.w().ok(),
        Err(d) => {
            let text = d.dryrun_text(r, &inner);
            ctx.w().bulk(text.as_bytes())
        }
    }
}

fn log_command(ctx: &mut Ctx, args: &Args) {
    let mut count = usize::MAX;
    if args.len() == 3 {
        if args.get(2).eq_ignore_ascii_case(b"reset") {
            lock(&ctx.node.acl.log).clear();
            return ctx.w().ok();
        }
        match cmd::int_arg(args.get(2)) {
            Some(n) => count = n.max(0) as usize,
            None => return ctx.not_an_integer(),
        }
    } else if args.len() > 3 {
        return ctx.wrong_arity("acl|log");
    }
    let now = ctx.now_ms;
    let log = lock(&ctx.node.acl.log);
    let n = log.len().min(count);
    let mut out = Vec::new();
    {
        let mut w = cachet_resp::ReplyWriter::new(&mut out, ctx.state.proto);
        w.array(n);
        for e in log.iter().take(n) {
            w.map(7);
            w.bulk(b"count");
            w.integer(e.count as i64);
            w.bulk(b"reason");
            w.bulk(e.reason.as_bytes());
            w.bulk(b"context");
            w.bulk(e.context.as_bytes());
            w.bulk(b"object");
            w.bulk(&e.object);
            w.bulk(b"username");
            w.bulk(e.username.as_bytes());
            w.bulk(b"age-seconds");
            let age = now.saturating_sub(e.created_ms) as f64 / 1000.0;
            w.double_text(cachet_store::format_score(age).as_bytes());
            w.bulk(b"client-info");
            w.bulk(e.client_info.trim_end().as_bytes());
        }
    }
    drop(log);
    ctx.out.extend_from_slice(&out);
}

fn save(ctx: &mut Ctx) {
    let Some(path) = ctx.node.config().aclfile else {
        return ctx.error(NO_ACLFILE);
    };
    let mut text = ctx.node.acl.list().join("\n");
    text.push('\n');
    let tmp = path.with_extension("tmp");
    let res = std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, &path));
    match res {
        Ok(()) => ctx.w().ok(),
        Err(e) => {
            tracing::warn!("ACL SAVE to {}: {e}", path.display());
            ctx.error("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
        }
    }
}

fn load(ctx: &mut Ctx) {
    let Some(path) = ctx.node.config().aclfile else {
        return ctx.error(NO_ACLFILE);
    };
    let res = std::fs::read_to_string(&path)
        .map_err(|e| format!("Error loading ACLs, opening file '{}': {e}", path.display()))
        .and_then(|text| ctx.node.acl.load(&text, &path.display().to_string()));
    match res {
        Ok(()) => ctx.w().ok(),
        Err(e) => ctx.error(&format!("ERR {e}")),
    }
}

/// The common name of a DER certificate's subject, for `tls-auth-clients-user CN`.
pub fn certificate_cn(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(ops: &[&str]) -> Result<User, RuleError> {
        let mut u = User::new("u", false);
        for op in ops {
            u.apply(op.as_bytes(), false)?;
        }
        Ok(u)
    }

    #[test]
    fn new_and_default_users_describe_as_redis_does() {
        assert_eq!(User::new("u", false).describe(), "off resetchannels -@all");
        assert_eq!(User::default_user().describe(), "on nopass ~* &* +@all");
        let u = user(&["reset"]).unwrap();
        assert_eq!(u.describe(), "off sanitize-payload resetchannels -@all");
    }

    #[test]
    fn rules_describe_back_in_redis_form() {
        let u = user(&["on", ">p1", "~foo*", "%R~bar*", "&chan", "+@read", "-get"]).unwrap();
        assert_eq!(
            u.describe(),
            format!("on #{} ~foo* %R~bar* resetchannels &chan -@all +@read -get", hash_password(b"p1"))
        );
        let u = user(&["+@all", "-config|set"]).unwrap();
        assert_eq!(u.root.describe_commands(), "+@all -config|set");
        let u = user(&["-@all", "+select|0"]).unwrap();
        assert_eq!(u.root.describe_commands(), "-@all +select|0");
        let u = user(&["(~b* +set)"]).unwrap();
        assert_eq!(u.describe(), "off resetchannels -@all (~b* resetchannels -@all +set)");
    }

    #[test]
    fn bad_rules_get_redis_errors() {
        assert_eq!(user(&["bogus"]).unwrap_err(), RuleError::Syntax);
        assert_eq!(user(&["+nosuch"]).unwrap_err(), RuleError::UnknownName);
        assert_eq!(user(&["+@nosuch"]).unwrap_err(), RuleError::UnknownName);
        assert_eq!(user(&["#abc"]).unwrap_err(), RuleError::BadHash);
        assert_eq!(user(&["<nothere"]).unwrap_err(), RuleError::NoSuchPassword);
        assert_eq!(user(&["%X~a"]).unwrap_err(), RuleError::Syntax);
        assert_eq!(user(&["allkeys", "~a"]).unwrap_err(), RuleError::KeysAfterAll);
        assert_eq!(user(&["allchannels", "&a"]).unwrap_err(), RuleError::ChannelsAfterAll);
        assert_eq!(user(&["-select|0"]).unwrap_err(), RuleError::UnknownName);
        assert_eq!(user(&["+config|get|x"]).unwrap_err(), RuleError::SubcommandFirstArg);
        assert_eq!(user(&["+config|"]).unwrap_err(), RuleError::Syntax);
    }

    #[test]
    fn passwords_rotate() {
        let mut u = user(&["on", ">old"]).unwrap();
        assert!(u.password_ok(b"old"));
        u.apply(b">new", false).unwrap();
        assert!(u.password_ok(b"old") && u.password_ok(b"new"));
        u.apply(b"<old", false).unwrap();
        assert!(!u.password_ok(b"old") && u.password_ok(b"new"));
        u.apply(b"off", false).unwrap();
        assert!(!u.password_ok(b"new"));
    }

    #[test]
    fn selectors_merge_across_words() {
        assert_eq!(
            merge_selectors(&[b"on", b"(~a", b"+get)", b"~b"]).unwrap(),
            vec![b"on".to_vec(), b"(~a +get)".to_vec(), b"~b".to_vec()]
        );
        assert_eq!(
            merge_selectors(&[b"(~a"]).unwrap_err(),
            "Unmatched parenthesis in acl selector starting at '(~a'."
        );
    }
}
