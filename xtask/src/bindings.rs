//! `gen-bindings` / `check-bindings`: the Python and Go hosts' view of `wit/`.
//!
//! Both hosts run the guest's core module through hand-written canonical-ABI
//! code (`python/src/backstop/_abi.py`, `go/abi.go`). What that code is
//! *given* (every record's fields in order, every enum's cases in order, every
//! function's parameters, result and core signature) is generated here from
//! the WIT with `wit-parser`, so a change to the WIT cannot be copied wrongly
//! by hand. The generated files also carry the layouts and core signatures
//! wit-parser itself computes (sizes, alignments, field offsets, flat types),
//! and each host's tests check that its hand-written ABI code agrees.
//!
//! The generator is general over what the hand-written ABI supports:
//! records, enums, lists, strings, options, results, bools and integers, in
//! any interface the world exports. Anything else is refused with a message
//! naming where it is used. Output is deterministic (WIT declaration order).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use wit_parser::abi::{AbiVariant, FlatTypes, WasmType};
use wit_parser::{InterfaceId, Resolve, SizeAlign, Type, TypeDefKind, TypeId, WorldItem};

/// Where the generated files go, relative to the workspace root.
pub const PYTHON_OUT: &str = "python/src/backstop/_wit.py";
pub const GO_OUT: &str = "go/wit_gen.go";

const COMMAND: &str = "cargo run -p xtask -- gen-bindings";

/// The canonical ABI's limit on flat parameters: more travel in memory.
const MAX_FLAT_PARAMS: usize = 16;

/// A WIT type in the subset the hand-written ABI code supports.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Ty {
    Bool,
    U8,
    U16,
    U32,
    U64,
    S8,
    S16,
    S32,
    S64,
    String,
    /// A record or enum, by its (possibly interface-qualified) kebab name.
    Named(String),
    Option(Box<Ty>),
    List(Box<Ty>),
    Result(Option<Box<Ty>>, Option<Box<Ty>>),
}

enum Def {
    Record(Vec<(String, Ty)>),
    Enum(Vec<String>),
}

struct NamedType {
    name: String,
    id: TypeId,
    def: Def,
}

struct Func {
    /// Kebab name, unique across interfaces (qualified when two interfaces
    /// share a function name).
    name: String,
    wit_name: String,
    interface: String,
    params: Vec<(String, Ty)>,
    result: Option<Ty>,
    core_params: Vec<&'static str>,
    core_results: Vec<&'static str>,
}

struct Interface {
    /// Short name, e.g. `retry`.
    name: String,
    /// Full id, e.g. `backstop:policy/retry@0.1.0`.
    id: String,
    functions: Vec<String>,
}

/// Layout facts wit-parser computes for one type.
struct Layout {
    size: usize,
    align: usize,
    offsets: Vec<usize>,
    flat: Vec<&'static str>,
}

struct Model {
    interfaces: Vec<Interface>,
    /// Records and enums in dependency order (each after what it uses).
    types: Vec<NamedType>,
    functions: Vec<Func>,
    layouts: BTreeMap<Ty, Layout>,
}

/// The generated files, as (path relative to the root, contents).
pub fn generate(root: &Path) -> Result<Vec<(&'static str, String)>> {
    let model = Model::load(&root.join("wit"))?;
    python_names(&model)?;
    Ok(vec![(PYTHON_OUT, python(&model)), (GO_OUT, go(&model))])
}

impl Model {
    fn load(dir: &Path) -> Result<Model> {
        let mut resolve = Resolve::default();
        let (pkg, _) = resolve
            .push_dir(dir)
            .with_context(|| format!("parsing the WIT in {}", dir.display()))?;
        let world = resolve.select_world(&[pkg], None)?;
        let mut sizes = SizeAlign::default();
        sizes.fill(&resolve);

        let exported: Vec<InterfaceId> = resolve.worlds[world]
            .exports
            .values()
            .filter_map(|item| match item {
                WorldItem::Interface { id, .. } => Some(*id),
                _ => None,
            })
            .collect();
        if resolve.worlds[world]
            .exports
            .values()
            .any(|item| !matches!(item, WorldItem::Interface { .. }))
        {
            bail!("the world exports a bare function or type; the hosts bind interfaces only");
        }

        // Every record and enum the exported interfaces define, in the
        // package's declaration order; `use`d and aliased names resolve to
        // their definition.
        let declared: Vec<InterfaceId> = resolve.packages[pkg]
            .interfaces
            .values()
            .copied()
            .filter(|i| exported.contains(i))
            .collect();
        let mut defs: Vec<TypeId> = Vec::new();
        for &iface in &declared {
            for &id in resolve.interfaces[iface].types.values() {
                let id = canonical(&resolve, id);
                if !defs.contains(&id) && is_def(&resolve, id) {
                    defs.push(id);
                }
            }
        }
        // Types used from interfaces the world does not export.
        let mut i = 0;
        while i < defs.len() {
            let mut used = Vec::new();
            walk_named(&resolve, defs[i], &mut used);
            for id in used {
                if !defs.contains(&id) {
                    defs.push(id);
                }
            }
            i += 1;
        }
        for iface in &declared {
            for f in resolve.interfaces[*iface].functions.values() {
                let mut used = Vec::new();
                for t in f.params.iter().map(|p| &p.ty).chain(f.result.iter()) {
                    walk_type(&resolve, t, &mut used);
                }
                for id in used {
                    if !defs.contains(&id) {
                        defs.push(id);
                    }
                }
            }
        }

        // Names: the WIT name; a later definition of a name already taken is
        // qualified by its interface (`redaction-label`), so adding one never
        // renames what the glue already uses.
        let mut taken: BTreeSet<String> = BTreeSet::new();
        let mut names: HashMap<TypeId, String> = HashMap::new();
        for &id in &defs {
            let mut name = resolve.types[id].name.clone().unwrap();
            if taken.contains(&name) {
                name = format!("{}-{name}", owner_name(&resolve, id));
            }
            if !taken.insert(name.clone()) {
                bail!("two definitions of the WIT type `{name}`");
            }
            names.insert(id, name);
        }

        let cx = Cx {
            resolve: &resolve,
            names: &names,
        };
        let mut types = Vec::new();
        for &id in &defs {
            let name = names[&id].clone();
            let where_ = format!("type `{name}`");
            let def = match &resolve.types[id].kind {
                TypeDefKind::Record(r) => Def::Record(
                    r.fields
                        .iter()
                        .map(|f| {
                            let ty = cx.ty(&f.ty, &format!("field `{}` of {where_}", f.name))?;
                            Ok((f.name.clone(), ty))
                        })
                        .collect::<Result<_>>()?,
                ),
                TypeDefKind::Enum(e) => Def::Enum(e.cases.iter().map(|c| c.name.clone()).collect()),
                other => bail!(
                    "{where_} is a {}; the generated bindings support records, enums, lists, \
                     strings, options, results, bools and integers",
                    other.as_str()
                ),
            };
            types.push(NamedType { name, id, def });
        }
        let types = dependency_order(types);

        let mut interfaces = Vec::new();
        let mut functions = Vec::new();
        let mut fn_taken: BTreeSet<String> = BTreeSet::new();
        for &iface in &declared {
            let short = resolve.interfaces[iface]
                .name
                .clone()
                .context("an exported interface has no name")?;
            let id = resolve
                .id_of(iface)
                .context("an exported interface has no id")?;
            let mut names_here = Vec::new();
            for (wit_name, f) in &resolve.interfaces[iface].functions {
                if !matches!(f.kind, wit_parser::FunctionKind::Freestanding) {
                    bail!(
                        "`{id}#{wit_name}` is not a freestanding function; resources are not supported"
                    );
                }
                // As with types, a later function of a name already taken is
                // qualified by its interface.
                let mut name = wit_name.clone();
                if fn_taken.contains(&name) {
                    name = format!("{short}-{wit_name}");
                }
                if !fn_taken.insert(name.clone()) {
                    bail!("two functions named `{name}`");
                }
                let where_ = format!("function `{id}#{wit_name}`");
                let params = f
                    .params
                    .iter()
                    .map(|p| {
                        Ok((
                            p.name.clone(),
                            cx.ty(&p.ty, &format!("parameter `{}` of {where_}", p.name))?,
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let result = f
                    .result
                    .as_ref()
                    .map(|t| cx.ty(t, &format!("the result of {where_}")))
                    .transpose()?;
                let sig = resolve.wasm_signature(AbiVariant::GuestExport, f);
                functions.push(Func {
                    name: name.clone(),
                    wit_name: wit_name.clone(),
                    interface: short.clone(),
                    params,
                    result,
                    core_params: sig.params.iter().map(|t| core(*t)).collect::<Result<_>>()?,
                    core_results: sig
                        .results
                        .iter()
                        .map(|t| core(*t))
                        .collect::<Result<_>>()?,
                });
                names_here.push(name);
            }
            interfaces.push(Interface {
                name: short,
                id,
                functions: names_here,
            });
        }

        // Layouts of every type the bindings mention, named or not.
        let mut all: BTreeMap<Ty, Type> = BTreeMap::new();
        let mut collect = |t: &Type, ty: Ty| {
            collect_types(&cx, t, ty, &mut all);
        };
        for nt in &types {
            if let Def::Record(fields) = &nt.def {
                let TypeDefKind::Record(r) = &resolve.types[nt.id].kind else {
                    unreachable!()
                };
                for (f, (_, ty)) in r.fields.iter().zip(fields) {
                    collect(&f.ty, ty.clone());
                }
            }
            collect(&Type::Id(nt.id), Ty::Named(nt.name.clone()));
        }
        for &iface in &declared {
            for f in resolve.interfaces[iface].functions.values() {
                for t in f.params.iter().map(|p| &p.ty).chain(f.result.iter()) {
                    let ty = cx.ty(t, "")?;
                    collect(t, ty);
                }
            }
        }
        let mut layouts = BTreeMap::new();
        for (ty, t) in all {
            // Field offsets for records; other types have none to check.
            let offsets = match &t {
                Type::Id(id) => match &resolve.types[canonical(&resolve, *id)].kind {
                    TypeDefKind::Record(r) => sizes
                        .field_offsets(r.fields.iter().map(|f| &f.ty))
                        .into_iter()
                        .map(|(o, _)| o.size_wasm32())
                        .collect(),
                    _ => vec![],
                },
                _ => vec![],
            };
            let mut storage = [WasmType::I32; 1024];
            let mut flat = FlatTypes::new(&mut storage);
            if !resolve.push_flat(&t, &mut flat) {
                bail!("{ty:?} flattens to more than 1024 core values");
            }
            layouts.insert(
                ty,
                Layout {
                    size: sizes.size(&t).size_wasm32(),
                    align: sizes.align(&t).align_wasm32(),
                    offsets,
                    flat: flat.to_vec().into_iter().map(core).collect::<Result<_>>()?,
                },
            );
        }

        Ok(Model {
            interfaces,
            types,
            functions,
            layouts,
        })
    }
}

struct Cx<'a> {
    resolve: &'a Resolve,
    names: &'a HashMap<TypeId, String>,
}

impl Cx<'_> {
    fn ty(&self, t: &Type, where_: &str) -> Result<Ty> {
        let unsupported = |what: &str| -> Result<Ty> {
            bail!(
                "{what} (in {where_}) is not supported by the generated bindings: the hosts' \
                 hand-written canonical ABI handles records, enums, lists, strings, options, \
                 results, bools and integers"
            )
        };
        Ok(match t {
            Type::Bool => Ty::Bool,
            Type::U8 => Ty::U8,
            Type::U16 => Ty::U16,
            Type::U32 => Ty::U32,
            Type::U64 => Ty::U64,
            Type::S8 => Ty::S8,
            Type::S16 => Ty::S16,
            Type::S32 => Ty::S32,
            Type::S64 => Ty::S64,
            Type::String => Ty::String,
            Type::F32 | Type::F64 => return unsupported("a float"),
            Type::Char => return unsupported("`char`"),
            Type::ErrorContext => return unsupported("`error-context`"),
            Type::Id(id) => {
                let id = canonical(self.resolve, *id);
                if let Some(name) = self.names.get(&id) {
                    return Ok(Ty::Named(name.clone()));
                }
                match &self.resolve.types[id].kind {
                    TypeDefKind::Option(inner) => {
                        let inner = self.ty(inner, where_)?;
                        if matches!(inner, Ty::Option(_)) {
                            return unsupported("`option<option<T>>`");
                        }
                        Ty::Option(Box::new(inner))
                    }
                    TypeDefKind::List(inner) => Ty::List(Box::new(self.ty(inner, where_)?)),
                    // `type x = u32`: the alias is only a name.
                    TypeDefKind::Type(inner) => self.ty(inner, where_)?,
                    TypeDefKind::Result(r) => Ty::Result(
                        r.ok.as_ref()
                            .map(|t| self.ty(t, where_).map(Box::new))
                            .transpose()?,
                        r.err
                            .as_ref()
                            .map(|t| self.ty(t, where_).map(Box::new))
                            .transpose()?,
                    ),
                    other => return unsupported(&format!("a `{}`", other.as_str())),
                }
            }
        })
    }
}

/// Follows `use` and `type x = y` aliases to the definition.
fn canonical(resolve: &Resolve, mut id: TypeId) -> TypeId {
    while let TypeDefKind::Type(Type::Id(next)) = resolve.types[id].kind {
        id = next;
    }
    id
}

/// A named definition of its own (rather than an alias, or a name for an
/// option, list or result, which the bindings spell inline).
fn is_def(resolve: &Resolve, id: TypeId) -> bool {
    let def = &resolve.types[id];
    def.name.is_some()
        && !matches!(
            def.kind,
            TypeDefKind::Type(_)
                | TypeDefKind::Option(_)
                | TypeDefKind::List(_)
                | TypeDefKind::Result(_)
        )
}

fn owner_name(resolve: &Resolve, id: TypeId) -> String {
    match resolve.types[id].owner {
        wit_parser::TypeOwner::Interface(i) => {
            resolve.interfaces[i].name.clone().unwrap_or_default()
        }
        wit_parser::TypeOwner::World(w) => resolve.worlds[w].name.clone(),
        wit_parser::TypeOwner::None => String::new(),
    }
}

/// Named definitions `id`'s definition refers to (through anonymous types).
fn walk_named(resolve: &Resolve, id: TypeId, out: &mut Vec<TypeId>) {
    match &resolve.types[id].kind {
        TypeDefKind::Record(r) => r.fields.iter().for_each(|f| walk_type(resolve, &f.ty, out)),
        TypeDefKind::Option(t) | TypeDefKind::List(t) | TypeDefKind::Type(t) => {
            walk_type(resolve, t, out)
        }
        TypeDefKind::Result(r) => {
            r.ok.iter()
                .chain(r.err.iter())
                .for_each(|t| walk_type(resolve, t, out))
        }
        _ => {}
    }
}

fn walk_type(resolve: &Resolve, t: &Type, out: &mut Vec<TypeId>) {
    if let Type::Id(id) = t {
        let id = canonical(resolve, *id);
        if is_def(resolve, id) {
            if !out.contains(&id) {
                out.push(id);
            }
        } else {
            walk_named(resolve, id, out);
        }
    }
}

/// Records every (Ty, wit Type) pair reachable from `t`.
fn collect_types(cx: &Cx, t: &Type, ty: Ty, out: &mut BTreeMap<Ty, Type>) {
    if let (Type::Id(id), _) = (t, &ty) {
        let id = canonical(cx.resolve, *id);
        if !cx.names.contains_key(&id) {
            match (&cx.resolve.types[id].kind, &ty) {
                (TypeDefKind::Option(inner), Ty::Option(i))
                | (TypeDefKind::List(inner), Ty::List(i)) => {
                    collect_types(cx, inner, (**i).clone(), out)
                }
                (TypeDefKind::Result(r), Ty::Result(ok, err)) => {
                    if let (Some(t), Some(ty)) = (&r.ok, ok) {
                        collect_types(cx, t, (**ty).clone(), out);
                    }
                    if let (Some(t), Some(ty)) = (&r.err, err) {
                        collect_types(cx, t, (**ty).clone(), out);
                    }
                }
                _ => {}
            }
        }
        out.insert(ty, Type::Id(id));
    } else {
        out.insert(ty, *t);
    }
}

fn core(t: WasmType) -> Result<&'static str> {
    Ok(match t {
        WasmType::I32 | WasmType::Pointer | WasmType::Length => "i32",
        WasmType::I64 | WasmType::PointerOrI64 => "i64",
        WasmType::F32 | WasmType::F64 => {
            bail!("floats are not supported by the generated bindings")
        }
    })
}

/// Orders definitions so each comes after the named types it uses (Python
/// evaluates the module top to bottom), keeping declaration order otherwise.
fn dependency_order(types: Vec<NamedType>) -> Vec<NamedType> {
    fn uses(ty: &Ty, out: &mut Vec<String>) {
        match ty {
            Ty::Named(n) => out.push(n.clone()),
            Ty::Option(t) | Ty::List(t) => uses(t, out),
            Ty::Result(ok, err) => ok.iter().chain(err.iter()).for_each(|t| uses(t, out)),
            _ => {}
        }
    }
    let mut pending: Vec<Option<NamedType>> = types.into_iter().map(Some).collect();
    let index: HashMap<String, usize> = pending
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_ref().unwrap().name.clone(), i))
        .collect();
    let mut out = Vec::new();
    fn visit(
        i: usize,
        pending: &mut [Option<NamedType>],
        index: &HashMap<String, usize>,
        out: &mut Vec<NamedType>,
    ) {
        let Some(t) = pending[i].take() else { return };
        let mut deps = Vec::new();
        if let Def::Record(fields) = &t.def {
            fields.iter().for_each(|(_, ty)| uses(ty, &mut deps));
        }
        for d in deps {
            if let Some(&j) = index.get(&d) {
                visit(j, pending, index, out);
            }
        }
        out.push(t);
    }
    for i in 0..pending.len() {
        visit(i, &mut pending, &index, &mut out);
    }
    out
}

// -- naming -------------------------------------------------------------------

fn upper_snake(kebab: &str) -> String {
    kebab.replace('-', "_").to_uppercase()
}

fn camel(kebab: &str) -> String {
    kebab
        .split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(first) => first.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        })
        .collect()
}

fn lower_camel(kebab: &str) -> String {
    let c = camel(kebab);
    let mut chars = c.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => c,
    }
}

fn wit_text(ty: &Ty) -> String {
    match ty {
        Ty::Bool => "bool".into(),
        Ty::U8 => "u8".into(),
        Ty::U16 => "u16".into(),
        Ty::U32 => "u32".into(),
        Ty::U64 => "u64".into(),
        Ty::S8 => "s8".into(),
        Ty::S16 => "s16".into(),
        Ty::S32 => "s32".into(),
        Ty::S64 => "s64".into(),
        Ty::String => "string".into(),
        Ty::Named(n) => n.clone(),
        Ty::Option(t) => format!("option<{}>", wit_text(t)),
        Ty::List(t) => format!("list<{}>", wit_text(t)),
        Ty::Result(ok, err) => {
            let side = |t: &Option<Box<Ty>>| t.as_ref().map_or("_".to_string(), |t| wit_text(t));
            format!("result<{}, {}>", side(ok), side(err))
        }
    }
}

// -- Python --------------------------------------------------------------------

fn py_ty(ty: &Ty) -> String {
    match ty {
        Ty::Bool => "BOOL".into(),
        Ty::String => "STRING".into(),
        Ty::Named(n) => upper_snake(n),
        Ty::Option(t) => format!("Option({})", py_ty(t)),
        Ty::List(t) => format!("List({})", py_ty(t)),
        Ty::Result(ok, err) => {
            let side = |t: &Option<Box<Ty>>| t.as_ref().map_or("None".to_string(), |t| py_ty(t));
            format!("Result({}, {})", side(ok), side(err))
        }
        int => wit_text(int).to_uppercase(),
    }
}

fn py_imports(ty: &Ty, out: &mut BTreeSet<String>) {
    match ty {
        Ty::Named(_) => {}
        Ty::Option(t) => {
            out.insert("Option".into());
            py_imports(t, out);
        }
        Ty::List(t) => {
            out.insert("List".into());
            py_imports(t, out);
        }
        Ty::Result(ok, err) => {
            out.insert("Result".into());
            ok.iter().chain(err.iter()).for_each(|t| py_imports(t, out));
        }
        t => {
            out.insert(py_ty(t));
        }
    }
}

/// Core types with runs shortened: `i32*18 i64 i32`.
fn flat_text(types: &[&str]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < types.len() {
        let run = types[i..].iter().take_while(|t| **t == types[i]).count();
        parts.push(if run == 1 {
            types[i].to_string()
        } else {
            format!("{}*{run}", types[i])
        });
        i += run;
    }
    parts.join(" ")
}

/// Python's module-level names must not collide (a later binding would
/// silently replace an earlier one).
fn python_names(m: &Model) -> Result<()> {
    let mut seen = BTreeSet::new();
    let names = m
        .interfaces
        .iter()
        .flat_map(|i| {
            [
                upper_snake(&i.name),
                format!("{}_FUNCTIONS", upper_snake(&i.name)),
            ]
        })
        .chain(m.types.iter().map(|t| upper_snake(&t.name)))
        .chain(m.functions.iter().map(|f| upper_snake(&f.name)))
        .chain(["EXPORTS", "LAYOUTS", "CORE_SIGNATURES"].map(String::from));
    for name in names {
        if !seen.insert(name.clone()) {
            bail!("two WIT names become the Python name `{name}` in {PYTHON_OUT}");
        }
    }
    Ok(())
}

fn python(m: &Model) -> String {
    let mut imports = BTreeSet::new();
    for t in &m.types {
        match &t.def {
            Def::Record(fields) => {
                imports.insert("Record".to_string());
                fields
                    .iter()
                    .for_each(|(_, ty)| py_imports(ty, &mut imports));
            }
            Def::Enum(_) => {
                imports.insert("Enum".to_string());
            }
        }
    }
    imports.insert("Function".to_string());
    for f in &m.functions {
        f.params
            .iter()
            .for_each(|(_, ty)| py_imports(ty, &mut imports));
        f.result.iter().for_each(|ty| py_imports(ty, &mut imports));
    }
    for ty in m.layouts.keys() {
        py_imports(ty, &mut imports);
    }
    // Upper-case constants first, as isort orders them.
    let (consts, classes): (Vec<String>, Vec<String>) = imports
        .into_iter()
        .partition(|n| n.chars().all(|c| !c.is_lowercase()));

    let mut o = String::new();
    writeln!(o, "# Generated by `{COMMAND}` from wit/; do not edit.").unwrap();
    o.push_str(
        r#""""Backstop's WIT contract (``wit/``) in :mod:`backstop._abi` types, fields and
cases in WIT order; ``LAYOUTS`` and ``CORE_SIGNATURES`` are wit-parser's view
of them, which ``tests/test_bindings.py`` checks ``_abi`` agrees with."""

"#,
    );
    writeln!(o, "from ._abi import (").unwrap();
    let mut line = String::from("   ");
    for name in consts.iter().chain(classes.iter()) {
        if line.len() + name.len() + 2 > 99 {
            writeln!(o, "{}", line.trim_end()).unwrap();
            line = String::from("   ");
        }
        write!(line, " {name},").unwrap();
    }
    writeln!(o, "{}", line.trim_end()).unwrap();
    writeln!(o, ")").unwrap();

    writeln!(o, "\n# -- interfaces {}\n", "-".repeat(62)).unwrap();
    for i in &m.interfaces {
        writeln!(o, "{} = \"{}\"", upper_snake(&i.name), i.id).unwrap();
    }

    writeln!(o, "\n# -- types {}\n", "-".repeat(67)).unwrap();
    for t in &m.types {
        match &t.def {
            Def::Record(fields) => {
                writeln!(o, "{} = Record([", upper_snake(&t.name)).unwrap();
                for (name, ty) in fields {
                    writeln!(o, "    (\"{name}\", {}),", py_ty(ty)).unwrap();
                }
                writeln!(o, "])").unwrap();
            }
            Def::Enum(cases) => {
                writeln!(o, "{} = Enum([", upper_snake(&t.name)).unwrap();
                for case in cases {
                    writeln!(o, "    \"{case}\",").unwrap();
                }
                writeln!(o, "])").unwrap();
            }
        }
    }

    writeln!(o, "\n# -- functions {}\n", "-".repeat(63)).unwrap();
    for f in &m.functions {
        write!(
            o,
            "{} = Function(\"{}\", [",
            upper_snake(&f.name),
            f.wit_name
        )
        .unwrap();
        if !f.params.is_empty() {
            writeln!(o).unwrap();
        }
        for (name, ty) in &f.params {
            writeln!(o, "    (\"{name}\", {}),", py_ty(ty)).unwrap();
        }
        match &f.result {
            Some(ty) => writeln!(o, "], {})", py_ty(ty)).unwrap(),
            None => writeln!(o, "])").unwrap(),
        }
    }
    writeln!(o).unwrap();
    for i in &m.interfaces {
        if i.functions.is_empty() {
            continue;
        }
        let names: Vec<String> = i.functions.iter().map(|n| upper_snake(n)).collect();
        let list = if names.len() == 1 {
            format!("({},)", names[0])
        } else {
            format!("({})", names.join(", "))
        };
        writeln!(o, "{}_FUNCTIONS = {list}", upper_snake(&i.name)).unwrap();
    }
    writeln!(o, "\n#: Every export the hosts bind, by interface.").unwrap();
    writeln!(o, "EXPORTS = {{").unwrap();
    for i in m.interfaces.iter().filter(|i| !i.functions.is_empty()) {
        let n = upper_snake(&i.name);
        writeln!(o, "    {n}: {n}_FUNCTIONS,").unwrap();
    }
    writeln!(o, "}}").unwrap();

    writeln!(o, "\n# -- what wit-parser computes {}\n", "-".repeat(49)).unwrap();
    writeln!(
        o,
        "#: (WIT type, its _abi type, size, alignment, field offsets, flat core types)."
    )
    .unwrap();
    writeln!(
        o,
        "#: Core types are space-separated, a run of n written `i32*n`."
    )
    .unwrap();
    writeln!(o, "LAYOUTS = (").unwrap();
    for (ty, l) in &m.layouts {
        let offsets: Vec<String> = l.offsets.iter().map(|o| o.to_string()).collect();
        let offsets = match offsets.len() {
            0 => "()".to_string(),
            1 => format!("({},)", offsets[0]),
            _ => format!("({})", offsets.join(", ")),
        };
        writeln!(
            o,
            "    (\"{}\", {}, {}, {}, {offsets}, \"{}\"),",
            wit_text(ty),
            py_ty(ty),
            l.size,
            l.align,
            flat_text(&l.flat)
        )
        .unwrap();
    }
    writeln!(o, ")").unwrap();
    writeln!(
        o,
        "#: (function, core parameter types, core result types), written as above."
    )
    .unwrap();
    writeln!(o, "CORE_SIGNATURES = (").unwrap();
    for f in &m.functions {
        writeln!(
            o,
            "    ({}, \"{}\", \"{}\"),",
            upper_snake(&f.name),
            flat_text(&f.core_params),
            flat_text(&f.core_results)
        )
        .unwrap();
    }
    writeln!(o, ")").unwrap();
    o
}

// -- Go ------------------------------------------------------------------------

/// The identifier stem of a type: `U32`, `PolicyError`, `OptionU64`,
/// `ListString`, `ResultPermitOrPolicyError`.
fn go_stem(ty: &Ty) -> String {
    match ty {
        Ty::Named(n) => camel(n),
        Ty::Option(t) => format!("Option{}", go_stem(t)),
        Ty::List(t) => format!("List{}", go_stem(t)),
        Ty::Result(ok, err) => {
            let side = |t: &Option<Box<Ty>>| t.as_ref().map_or("Empty".to_string(), |t| go_stem(t));
            format!("Result{}Or{}", side(ok), side(err))
        }
        prim => camel(&wit_text(prim)),
    }
}

/// The abi.go descriptor variable of a type.
fn go_abi(ty: &Ty) -> String {
    match ty {
        Ty::Bool
        | Ty::U8
        | Ty::U16
        | Ty::U32
        | Ty::U64
        | Ty::S8
        | Ty::S16
        | Ty::S32
        | Ty::S64
        | Ty::String => {
            format!("{}T", wit_text(ty))
        }
        _ => format!("{}T", lower_camel_stem(ty)),
    }
}

fn lower_camel_stem(ty: &Ty) -> String {
    let s = go_stem(ty);
    let mut c = s.chars();
    c.next().unwrap().to_lowercase().chain(c).collect()
}

/// The Go type a generated value has.
fn go_type(ty: &Ty) -> String {
    match ty {
        Ty::Bool => "bool".into(),
        Ty::U8 => "uint8".into(),
        Ty::U16 => "uint16".into(),
        Ty::U32 => "uint32".into(),
        Ty::U64 => "uint64".into(),
        Ty::S8 => "int8".into(),
        Ty::S16 => "int16".into(),
        Ty::S32 => "int32".into(),
        Ty::S64 => "int64".into(),
        Ty::String => "string".into(),
        Ty::Named(n) => format!("wit{}", camel(n)),
        Ty::Option(t) => format!("*{}", go_type(t)),
        Ty::List(t) => format!("[]{}", go_type(t)),
        Ty::Result(..) => format!("wit{}", go_stem(ty)),
    }
}

/// Whether a type's generated lower function takes a pointer.
fn go_by_pointer(m: &Model, ty: &Ty) -> bool {
    match ty {
        Ty::Named(n) => m
            .types
            .iter()
            .any(|t| &t.name == n && matches!(t.def, Def::Record(_))),
        Ty::Result(..) => true,
        _ => false,
    }
}

/// A statement lowering `place` (an addressable expression of go_type(ty))
/// into sink `s`.
fn go_lower(m: &Model, ty: &Ty, s: &str, place: &str) -> String {
    match ty {
        Ty::Bool => format!("{s}.int(boolT, boolBits({place}))"),
        Ty::String => format!("{s}.string({place})"),
        Ty::Option(_) | Ty::List(_) => format!("lowerWit{}({s}, {place})", go_stem(ty)),
        Ty::Named(_) | Ty::Result(..) if go_by_pointer(m, ty) => {
            let addr = match place.strip_prefix('*') {
                Some(p) => p.to_string(),
                None => format!("&{place}"),
            };
            format!("lowerWit{}({s}, {addr})", go_stem(ty))
        }
        // Integers and enums: abi.go truncates to the type's width.
        _ => format!("{s}.int({}, uint64({place}))", go_abi(ty)),
    }
}

/// Whether lowering a value of `ty` allocates in the guest: whether it
/// holds a string or a list.
fn go_allocates(m: &Model, ty: &Ty) -> bool {
    match ty {
        Ty::String | Ty::List(_) => true,
        Ty::Option(t) => go_allocates(m, t),
        Ty::Result(ok, err) => ok.iter().chain(err.iter()).any(|t| go_allocates(m, t)),
        Ty::Named(n) => m.types.iter().any(|t| {
            &t.name == n
                && matches!(&t.def, Def::Record(fields) if fields.iter().any(|(_, f)| go_allocates(m, f)))
        }),
        _ => false,
    }
}

/// The address of `place`, an addressable expression.
fn go_addr(place: &str) -> String {
    match place.strip_prefix('*') {
        Some(p) => p.to_string(),
        None => format!("&{place}"),
    }
}

/// A statement allocating the strings and lists of `place` (a go_type(ty))
/// in the guest, in field order, and queueing their (ptr, len) pairs on
/// writer `w`; None when it holds none.
fn go_alloc(m: &Model, ty: &Ty, place: &str) -> Option<String> {
    if !go_allocates(m, ty) {
        return None;
    }
    Some(match ty {
        Ty::String => format!("w.pushString({place})"),
        Ty::Option(_) | Ty::List(_) => format!("allocWit{}(w, {place})", go_stem(ty)),
        _ => format!("allocWit{}(w, {})", go_stem(ty), go_addr(place)),
    })
}

/// A statement storing discriminant `v` (a Go expression, or a constant)
/// of `width` bytes at `a[off:]`.
fn go_put_disc(width: usize, a: &str, off: usize, v: &str, constant: bool) -> String {
    let conv = |t: &str| {
        if constant {
            v.to_string()
        } else {
            format!("{t}({v})")
        }
    };
    match width {
        1 => format!("{a}[{off}] = {}", conv("byte")),
        2 => format!(
            "binary.LittleEndian.PutUint16({a}[{off}:], {})",
            conv("uint16")
        ),
        _ => format!(
            "binary.LittleEndian.PutUint32({a}[{off}:], {})",
            conv("uint32")
        ),
    }
}

/// A statement storing `place` (a go_type(ty)) at `a[off:]`, where `a` is
/// a bounds-checked view (an array pointer or a slice) of the guest memory
/// the value goes to. Integers and enums store at constant offsets;
/// strings and lists store the next (ptr, len) pair go_alloc queued.
fn go_put(m: &Model, ty: &Ty, a: &str, off: usize, place: &str) -> String {
    let le = |f: &str, v: String| format!("binary.LittleEndian.{f}({a}[{off}:], {v})");
    match ty {
        Ty::Bool => format!("{a}[{off}] = byte(boolBits({place}))"),
        Ty::U8 => format!("{a}[{off}] = {place}"),
        Ty::S8 => format!("{a}[{off}] = byte({place})"),
        Ty::U16 => le("PutUint16", place.to_string()),
        Ty::S16 => le("PutUint16", format!("uint16({place})")),
        Ty::U32 => le("PutUint32", place.to_string()),
        Ty::S32 => le("PutUint32", format!("uint32({place})")),
        Ty::U64 => le("PutUint64", place.to_string()),
        Ty::S64 => le("PutUint64", format!("uint64({place})")),
        Ty::String | Ty::List(_) => format!("w.putSpan({a}[{off}:{}])", off + 8),
        _ => {
            if let Some(cases) = go_enum_cases(m, ty) {
                let (width, _) = go_variant(m, cases.len(), &[]);
                return go_put_disc(width, a, off, place, false);
            }
            let arg = match ty {
                Ty::Option(_) => place.to_string(),
                _ => go_addr(place),
            };
            let size = go_layout(m, ty).size;
            format!("putWit{}(w, {a}[{off}:{}], {arg})", go_stem(ty), off + size)
        }
    }
}

/// The body of a function storing a value at address `p` of guest memory:
/// first the value's strings and lists are allocated (`allocs`), then one
/// view of its `size` bytes is taken, which no later allocation can move,
/// and `puts` write it at constant offsets.
fn go_store_body(o: &mut String, allocs: &[String], size: usize, puts: &[String]) {
    if allocs.is_empty() {
        writeln!(o, "\tif b := w.view(p, {size}); b != nil {{").unwrap();
    } else {
        writeln!(o, "\tmark := len(w.spans)").unwrap();
        for a in allocs {
            writeln!(o, "\t{a}").unwrap();
        }
        writeln!(o, "\tif b := w.at(p, {size}, mark); b != nil {{").unwrap();
    }
    for put in puts {
        writeln!(o, "\t\t{put}").unwrap();
    }
    writeln!(o, "\t}}").unwrap();
    if !allocs.is_empty() {
        writeln!(o, "\tw.spans = w.spans[:mark]").unwrap();
    }
}

/// wit-parser's layout of a type the model reaches.
fn go_layout<'a>(m: &'a Model, ty: &Ty) -> &'a Layout {
    m.layouts
        .get(ty)
        .unwrap_or_else(|| panic!("no layout for {}", wit_text(ty)))
}

/// The cases of an enum, if `ty` names one.
fn go_enum_cases<'a>(m: &'a Model, ty: &Ty) -> Option<&'a [String]> {
    let Ty::Named(n) = ty else { return None };
    m.types.iter().find_map(|t| match &t.def {
        Def::Enum(cases) if &t.name == n => Some(cases.as_slice()),
        _ => None,
    })
}

/// A variant's discriminant width and payload offset, as the canonical
/// ABI lays it out: `cases` cases, the payloads' types `payloads`.
fn go_variant(m: &Model, cases: usize, payloads: &[&Ty]) -> (usize, usize) {
    let disc = match cases {
        0..=0x100 => 1,
        0x101..=0x1_0000 => 2,
        _ => 4,
    };
    let align = payloads
        .iter()
        .map(|t| go_layout(m, t).align)
        .fold(disc, usize::max);
    (disc, disc.div_ceil(align) * align)
}

/// An address `p` plus a constant offset.
fn go_at(p: &str, off: usize) -> String {
    if off == 0 {
        p.to_string()
    } else {
        format!("{p}+{off}")
    }
}

/// A discriminant of `width` bytes at `b[off]`, as a uint32.
fn go_disc(width: usize, b: &str, off: usize) -> String {
    match width {
        1 => format!("uint32({b}[{off}])"),
        2 => format!("uint32(binary.LittleEndian.Uint16({b}[{off}:]))"),
        _ => format!("binary.LittleEndian.Uint32({b}[{off}:])"),
    }
}

/// An expression lifting a go_type(ty) stored at `b[off:]`, where `b` (a
/// byte slice or array pointer, already bounds-checked) holds guest memory
/// from address `p`; `r` is the reader. Integers load at constant offsets;
/// enums, strings and composite types go through the reader, which checks
/// discriminants, pointers and UTF-8.
fn go_lift_in(m: &Model, ty: &Ty, p: &str, b: &str, off: usize) -> String {
    let le = |f: &str| format!("binary.LittleEndian.{f}({b}[{off}:])");
    match ty {
        Ty::Bool => format!("{b}[{off}] != 0"),
        Ty::U8 => format!("{b}[{off}]"),
        Ty::S8 => format!("int8({b}[{off}])"),
        Ty::U16 => le("Uint16"),
        Ty::S16 => format!("int16({})", le("Uint16")),
        Ty::U32 => le("Uint32"),
        Ty::S32 => format!("int32({})", le("Uint32")),
        Ty::U64 => le("Uint64"),
        Ty::S64 => format!("int64({})", le("Uint64")),
        Ty::String => format!("r.string({b}[{off}:{}])", off + 8),
        _ => {
            if let Some(cases) = go_enum_cases(m, ty) {
                let (width, _) = go_variant(m, cases.len(), &[]);
                return format!(
                    "{}(r.disc({}, {}, {}))",
                    go_type(ty),
                    go_disc(width, b, off),
                    cases.len(),
                    go_at(p, off)
                );
            }
            let size = go_layout(m, ty).size;
            format!(
                "liftWit{}In(r, {}, {b}[{off}:{}])",
                go_stem(ty),
                go_at(p, off),
                off + size
            )
        }
    }
}

/// An expression lifting a function's result of type `ty` from source `s`.
fn go_lift_result(ty: &Ty) -> String {
    match ty {
        Ty::Bool => "s.int(boolT) != 0".into(),
        Ty::String => "s.string()".into(),
        Ty::U64 => "s.int(u64T)".into(),
        Ty::Named(_) | Ty::Option(_) | Ty::List(_) | Ty::Result(..) => {
            format!("liftWit{}(s)", go_stem(ty))
        }
        // Loads zero-extend; the conversion keeps the low bits, which
        // restores a signed value's sign.
        int => format!("{}(s.int({}))", go_type(int), go_abi(int)),
    }
}

/// The `liftWit{stem}(s *source)` entry point of a type: one bounds check
/// for the whole value, then lifting from the bytes.
fn go_lift_source(o: &mut String, m: &Model, ty: &Ty) {
    let stem = go_stem(ty);
    let size = go_layout(m, ty).size;
    let body = match go_enum_cases(m, ty) {
        Some(_) => go_lift_in(m, ty, "p", "b", 0),
        None => format!("liftWit{stem}In(r, p, b)"),
    };
    writeln!(
        o,
        "func liftWit{stem}(s *source) (v {}) {{\n\tr, p := s.r, s.next({})\n\tif b := r.bytes(p, {size}); b != nil {{\n\t\tv = {body}\n\t}}\n\treturn v\n}}",
        go_type(ty),
        go_abi(ty)
    )
    .unwrap();
}

/// The head of a `liftWit{stem}In` function, which lifts a value from `b`,
/// its bytes at address `p`, viewed as an array so that its constant
/// offsets need no bounds checks.
fn go_lift_in_head(o: &mut String, ty: &Ty, p: &str, named_result: bool) {
    let gt = go_type(ty);
    let result = if named_result {
        format!("(v {gt})")
    } else {
        gt
    };
    writeln!(
        o,
        "func liftWit{}In(r *reader, {p} uint32, b []byte) {result} {{",
        go_stem(ty)
    )
    .unwrap();
}

/// Anonymous types (options, lists, results) reachable from `ty`, inner first.
fn go_anon(ty: &Ty, out: &mut Vec<Ty>) {
    match ty {
        Ty::Option(t) | Ty::List(t) => go_anon(t, out),
        Ty::Result(ok, err) => ok.iter().chain(err.iter()).for_each(|t| go_anon(t, out)),
        _ => return,
    }
    if !out.contains(ty) {
        out.push(ty.clone());
    }
}

/// gofmt's alignment of a block of `name type` lines.
fn go_fields(o: &mut String, indent: &str, fields: &[(String, String)]) {
    let width = fields.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, ty) in fields {
        writeln!(o, "{indent}{name:width$} {ty}").unwrap();
    }
}

fn go(m: &Model) -> String {
    let mut o = String::new();
    writeln!(
        o,
        "// Code generated by `{COMMAND}` from wit/; DO NOT EDIT."
    )
    .unwrap();
    o.push_str(
        "
package backstop

// Backstop's WIT contract as abi.go descriptors, typed Go layouts (records
// as structs with their fields in WIT order, enums as case indices with
// their names), a lower and a lift function per type, and each exported
// function's descriptor and parameters. The hand-written glue (wit.go)
// converts between these and the public types by name.
//
// Lifting reads each value from one bounds-checked view of its bytes
// (liftWit*In), at the constant offsets wit-parser computes; the reader
// checks discriminants, pointers, lengths and UTF-8.
//
// Lowering into memory mirrors it: allocWit* copies a value's strings and
// lists into the guest through cabi_realloc, in field order, queueing their
// (ptr, len) pairs on the writer; putWit* then writes the value into one
// bounds-checked view at constant offsets, taking the pairs in the same
// order; storeWit* and the parameters' store do both at an address. The
// view is taken after the allocations, which may grow (and so move) linear
// memory. lowerWit* (through a sink) remains for flat parameters.

import \"encoding/binary\"
",
    );

    writeln!(o, "\n// The exported interfaces.\nconst (").unwrap();
    let names: Vec<(String, String)> = m
        .interfaces
        .iter()
        .map(|i| {
            (
                format!("{}Interface", lower_camel(&i.name)),
                format!("= \"{}\"", i.id),
            )
        })
        .collect();
    go_fields(&mut o, "\t", &names);
    writeln!(o, ")").unwrap();

    let mut anon = Vec::new();
    for t in &m.types {
        writeln!(o).unwrap();
        let go_name = go_type(&Ty::Named(t.name.clone()));
        let stem = camel(&t.name);
        let abi = go_abi(&Ty::Named(t.name.clone()));
        match &t.def {
            Def::Enum(cases) => {
                writeln!(o, "// {go_name} is a case of the WIT enum {}.", t.name).unwrap();
                writeln!(o, "type {go_name} uint32\n").unwrap();
                writeln!(o, "// {go_name}Names are its cases in WIT order.").unwrap();
                writeln!(o, "var {go_name}Names = [...]string{{").unwrap();
                for c in cases {
                    writeln!(o, "\t\"{c}\",").unwrap();
                }
                writeln!(o, "}}\n").unwrap();
                writeln!(o, "var {abi} = enumOf(len({go_name}Names))\n").unwrap();
                writeln!(
                    o,
                    "func (e {go_name}) String() string {{\n\treturn {go_name}Names[e]\n}}\n"
                )
                .unwrap();
                writeln!(o, "// {go_name}Named finds a case by its WIT name.").unwrap();
                writeln!(o, "func {go_name}Named(name string) ({go_name}, bool) {{").unwrap();
                writeln!(o, "\tswitch name {{").unwrap();
                for (i, c) in cases.iter().enumerate() {
                    writeln!(o, "\tcase \"{c}\":\n\t\treturn {i}, true").unwrap();
                }
                writeln!(o, "\t}}\n\treturn 0, false\n}}\n").unwrap();
                go_lift_source(&mut o, m, &Ty::Named(t.name.clone()));
            }
            Def::Record(fields) => {
                writeln!(o, "// {go_name} is the WIT record {}.", t.name).unwrap();
                writeln!(o, "type {go_name} struct {{").unwrap();
                let rows: Vec<(String, String)> = fields
                    .iter()
                    .map(|(n, ty)| (camel(n), go_type(ty)))
                    .collect();
                go_fields(&mut o, "\t", &rows);
                writeln!(o, "}}\n").unwrap();
                let field_abis: Vec<String> = fields.iter().map(|(_, ty)| go_abi(ty)).collect();
                writeln!(o, "var {abi} = recordOf({})\n", field_abis.join(", ")).unwrap();
                writeln!(o, "func lowerWit{stem}(s sink, v *{go_name}) {{").unwrap();
                writeln!(o, "\tr := s.record({abi})").unwrap();
                for (n, ty) in fields {
                    writeln!(o, "\t{}", go_lower(m, ty, "r", &format!("v.{}", camel(n)))).unwrap();
                }
                writeln!(o, "}}\n").unwrap();
                let ty = Ty::Named(t.name.clone());
                let l = go_layout(m, &ty);
                let allocs: Vec<String> = fields
                    .iter()
                    .filter_map(|(n, fty)| go_alloc(m, fty, &format!("v.{}", camel(n))))
                    .collect();
                if !allocs.is_empty() {
                    writeln!(o, "func allocWit{stem}(w *writer, v *{go_name}) {{").unwrap();
                    for a in &allocs {
                        writeln!(o, "\t{a}").unwrap();
                    }
                    writeln!(o, "}}\n").unwrap();
                }
                writeln!(o, "func putWit{stem}(w *writer, b []byte, v *{go_name}) {{").unwrap();
                if !fields.is_empty() {
                    writeln!(o, "\ta := (*[{}]byte)(b)", l.size).unwrap();
                }
                for ((n, fty), off) in fields.iter().zip(&l.offsets) {
                    let put = go_put(m, fty, "a", *off, &format!("v.{}", camel(n)));
                    writeln!(o, "\t{put}").unwrap();
                }
                writeln!(o, "}}\n").unwrap();
                writeln!(
                    o,
                    "func storeWit{stem}(w *writer, p uint32, v *{go_name}) {{"
                )
                .unwrap();
                let own: Vec<String> = if allocs.is_empty() {
                    vec![]
                } else {
                    vec![format!("allocWit{stem}(w, v)")]
                };
                go_store_body(&mut o, &own, l.size, &[format!("putWit{stem}(w, b, v)")]);
                writeln!(o, "}}\n").unwrap();
                go_lift_source(&mut o, m, &ty);
                writeln!(o).unwrap();
                go_lift_in_head(&mut o, &ty, "p", true);
                if !fields.is_empty() {
                    writeln!(o, "\ta := (*[{}]byte)(b)", l.size).unwrap();
                }
                for ((n, fty), off) in fields.iter().zip(&l.offsets) {
                    let lift = go_lift_in(m, fty, "p", "a", *off);
                    writeln!(o, "\tv.{} = {lift}", camel(n)).unwrap();
                }
                writeln!(o, "\treturn v\n}}").unwrap();
                fields.iter().for_each(|(_, ty)| go_anon(ty, &mut anon));
            }
        }
    }
    for f in &m.functions {
        f.params.iter().for_each(|(_, ty)| go_anon(ty, &mut anon));
        f.result.iter().for_each(|ty| go_anon(ty, &mut anon));
    }

    for ty in &anon {
        writeln!(o).unwrap();
        let stem = go_stem(ty);
        let abi = go_abi(ty);
        let gt = go_type(ty);
        match ty {
            Ty::Option(inner) => {
                writeln!(o, "var {abi} = optionOf({})\n", go_abi(inner)).unwrap();
                writeln!(o, "func lowerWit{stem}(s sink, v {gt}) {{").unwrap();
                writeln!(
                    o,
                    "\tif v == nil {{\n\t\t_, mark := s.variant({abi}, 0)\n\t\ts.end({abi}, mark)\n\t\treturn\n\t}}"
                )
                .unwrap();
                writeln!(
                    o,
                    "\tp, mark := s.variant({abi}, 1)\n\t{}\n\ts.end({abi}, mark)\n}}\n",
                    go_lower(m, inner, "p", "*v")
                )
                .unwrap();
                if let Some(a) = go_alloc(m, inner, "*v") {
                    writeln!(
                        o,
                        "func allocWit{stem}(w *writer, v {gt}) {{\n\tif v != nil {{\n\t\t{a}\n\t}}\n}}\n"
                    )
                    .unwrap();
                }
                let (width, payload) = go_variant(m, 2, &[inner]);
                writeln!(
                    o,
                    "func putWit{stem}(w *writer, b []byte, v {gt}) {{\n\ta := (*[{}]byte)(b)\n\tif v == nil {{\n\t\t{}\n\t\treturn\n\t}}\n\t{}\n\t{}\n}}\n",
                    go_layout(m, ty).size,
                    go_put_disc(width, "a", 0, "0", true),
                    go_put_disc(width, "a", 0, "1", true),
                    go_put(m, inner, "a", payload, "*v")
                )
                .unwrap();
                go_lift_source(&mut o, m, ty);
                writeln!(o).unwrap();
                go_lift_in_head(&mut o, ty, "p", false);
                let (width, payload) = go_variant(m, 2, &[inner]);
                writeln!(
                    o,
                    "\ta := (*[{}]byte)(b)\n\tif r.disc({}, 2, p) == 0 {{\n\t\treturn nil\n\t}}",
                    go_layout(m, ty).size,
                    go_disc(width, "a", 0)
                )
                .unwrap();
                let lift = go_lift_in(m, inner, "p", "a", payload);
                writeln!(o, "\tv := {lift}\n\treturn &v\n}}").unwrap();
            }
            Ty::List(inner) => {
                writeln!(o, "var {abi} = listOf({})\n", go_abi(inner)).unwrap();
                writeln!(o, "func lowerWit{stem}(s sink, v {gt}) {{").unwrap();
                writeln!(
                    o,
                    "\te := s.list({}, len(v))\n\tfor i := range v {{\n\t\t{}\n\t}}\n}}\n",
                    go_abi(inner),
                    go_lower(m, inner, "e", "v[i]")
                )
                .unwrap();
                // The list's elements are stored as soon as their own
                // strings and lists are allocated; its (ptr, len) is queued
                // for the value that holds it.
                let size = go_layout(m, inner).size;
                writeln!(o, "func allocWit{stem}(w *writer, v {gt}) {{").unwrap();
                writeln!(o, "\tp, n := allocList(w, {}, len(v))", go_abi(inner)).unwrap();
                let elem_alloc = go_alloc(m, inner, "v[i]");
                match &elem_alloc {
                    Some(a) => writeln!(
                        o,
                        "\tmark := len(w.spans)\n\tfor i := range v {{\n\t\t{a}\n\t}}\n\tif b := w.at(p, n*{size}, mark); b != nil {{"
                    )
                    .unwrap(),
                    None => writeln!(o, "\tif b := w.view(p, n*{size}); b != nil {{").unwrap(),
                }
                let put = go_put(m, inner, "b", 0, "v[i]");
                // A string's or list's put takes the next queued span.
                let each = if put.contains("v[i]") {
                    "i := range v"
                } else {
                    "range v"
                };
                writeln!(
                    o,
                    "\t\tfor {each} {{\n\t\t\t{put}\n\t\t\tb = b[{size}:]\n\t\t}}\n\t}}"
                )
                .unwrap();
                let queue = if elem_alloc.is_some() {
                    "w.spans[:mark]"
                } else {
                    "w.spans"
                };
                writeln!(o, "\tw.spans = append({queue}, span{{p, n}})\n}}\n").unwrap();
                writeln!(
                    o,
                    "// liftWit{stem} never returns nil, so an empty list marshals as []."
                )
                .unwrap();
                go_lift_source(&mut o, m, ty);
                writeln!(o).unwrap();
                go_lift_in_head(&mut o, ty, "_", false);
                // Only enums and composite elements need their address.
                let by_address = matches!(
                    inner.as_ref(),
                    Ty::Named(_) | Ty::Option(_) | Ty::List(_) | Ty::Result(..)
                );
                let (p, next) = if by_address {
                    ("p", "p, elems = p+")
                } else {
                    ("_", "elems = ")
                };
                let size = go_layout(m, inner).size;
                let next = if by_address {
                    format!("{next}{size}, elems[{size}:]")
                } else {
                    format!("{next}elems[{size}:]")
                };
                writeln!(
                    o,
                    "\t{p}, n, elems := r.list(b, {})\n\tv := make({gt}, 0, n)",
                    go_abi(inner)
                )
                .unwrap();
                writeln!(
                    o,
                    "\tfor ; n > 0 && r.err == nil; n-- {{\n\t\tv = append(v, {})\n\t\t{next}\n\t}}\n\treturn v\n}}",
                    go_lift_in(m, inner, "p", "elems", 0)
                )
                .unwrap();
            }
            Ty::Result(ok, err) => {
                let side =
                    |t: &Option<Box<Ty>>| t.as_ref().map_or("nil".to_string(), |t| go_abi(t));
                writeln!(o, "// {gt} is a {}.", wit_text(ty)).unwrap();
                writeln!(o, "type {gt} struct {{").unwrap();
                let mut rows = vec![("IsErr".to_string(), "bool".to_string())];
                if let Some(t) = ok {
                    rows.push(("Ok".into(), go_type(t)));
                }
                if let Some(t) = err {
                    rows.push(("Err".into(), go_type(t)));
                }
                go_fields(&mut o, "\t", &rows);
                writeln!(o, "}}\n").unwrap();
                writeln!(o, "var {abi} = resultOf({}, {})\n", side(ok), side(err)).unwrap();
                // The case's payload lowered into `p`, or nothing.
                let payload = |t: &Option<Box<Ty>>, field: &str, indent: &str| match t {
                    Some(t) => (
                        "p",
                        format!("{indent}{}\n", go_lower(m, t, "p", &format!("v.{field}"))),
                    ),
                    None => ("_", String::new()),
                };
                writeln!(o, "func lowerWit{stem}(s sink, v *{gt}) {{").unwrap();
                let (p, body) = payload(err, "Err", "\t\t");
                writeln!(
                    o,
                    "\tif v.IsErr {{\n\t\t{p}, mark := s.variant({abi}, 1)\n{body}\t\ts.end({abi}, mark)\n\t\treturn\n\t}}"
                )
                .unwrap();
                let (p, body) = payload(ok, "Ok", "\t");
                writeln!(
                    o,
                    "\t{p}, mark := s.variant({abi}, 0)\n{body}\ts.end({abi}, mark)\n}}\n"
                )
                .unwrap();
                let side_alloc = |t: &Option<Box<Ty>>, field: &str| {
                    t.as_ref()
                        .and_then(|t| go_alloc(m, t, &format!("v.{field}")))
                };
                let alloc_body = match (side_alloc(ok, "Ok"), side_alloc(err, "Err")) {
                    (Some(a), Some(e)) => Some(format!(
                        "\tif v.IsErr {{\n\t\t{e}\n\t}} else {{\n\t\t{a}\n\t}}"
                    )),
                    (Some(a), None) => Some(format!("\tif !v.IsErr {{\n\t\t{a}\n\t}}")),
                    (None, Some(e)) => Some(format!("\tif v.IsErr {{\n\t\t{e}\n\t}}")),
                    (None, None) => None,
                };
                if let Some(body) = alloc_body {
                    writeln!(
                        o,
                        "func allocWit{stem}(w *writer, v *{gt}) {{\n{body}\n}}\n"
                    )
                    .unwrap();
                }
                let payloads: Vec<&Ty> = ok.iter().chain(err.iter()).map(|t| &**t).collect();
                let (width, payload) = go_variant(m, 2, &payloads);
                let side_put = |t: &Option<Box<Ty>>, field: &str, indent: &str| match t {
                    Some(t) => format!(
                        "{indent}{}\n",
                        go_put(m, t, "a", payload, &format!("v.{field}"))
                    ),
                    None => String::new(),
                };
                writeln!(
                    o,
                    "func putWit{stem}(w *writer, b []byte, v *{gt}) {{\n\ta := (*[{}]byte)(b)\n\tif v.IsErr {{\n\t\t{}\n{}\t\treturn\n\t}}\n\t{}\n{}}}\n",
                    go_layout(m, ty).size,
                    go_put_disc(width, "a", 0, "1", true),
                    side_put(err, "Err", "\t\t"),
                    go_put_disc(width, "a", 0, "0", true),
                    side_put(ok, "Ok", "\t"),
                )
                .unwrap();
                go_lift_source(&mut o, m, ty);
                writeln!(o).unwrap();
                go_lift_in_head(&mut o, ty, "p", true);
                let payloads: Vec<&Ty> = ok.iter().chain(err.iter()).map(|t| &**t).collect();
                let (width, payload) = go_variant(m, 2, &payloads);
                writeln!(
                    o,
                    "\ta := (*[{}]byte)(b)\n\tv.IsErr = r.disc({}, 2, p) == 1",
                    go_layout(m, ty).size,
                    go_disc(width, "a", 0)
                )
                .unwrap();
                let lift = |t: &Ty| go_lift_in(m, t, "p", "a", payload);
                match (ok, err) {
                    (Some(ok), Some(err)) => writeln!(
                        o,
                        "\tif v.IsErr {{\n\t\tv.Err = {}\n\t}} else {{\n\t\tv.Ok = {}\n\t}}",
                        lift(err),
                        lift(ok)
                    )
                    .unwrap(),
                    (Some(ok), None) => {
                        writeln!(o, "\tif !v.IsErr {{\n\t\tv.Ok = {}\n\t}}", lift(ok)).unwrap()
                    }
                    (None, Some(err)) => {
                        writeln!(o, "\tif v.IsErr {{\n\t\tv.Err = {}\n\t}}", lift(err)).unwrap()
                    }
                    (None, None) => {}
                }
                writeln!(o, "\treturn v\n}}").unwrap();
            }
            _ => unreachable!(),
        }
    }

    for f in &m.functions {
        let stem = camel(&f.name);
        let var = format!("{}Fn", lower_camel(&f.name));
        let iface = m.interfaces.iter().find(|i| i.name == f.interface).unwrap();
        writeln!(o).unwrap();
        writeln!(o, "// {var} is {}#{}.", iface.id, f.wit_name).unwrap();
        let mut args = vec![
            format!("\"{}\"", f.wit_name),
            f.result.as_ref().map_or("nil".to_string(), go_abi),
        ];
        args.extend(f.params.iter().map(|(_, ty)| go_abi(ty)));
        writeln!(
            o,
            "var {var} = newWitFunc({}).in({}Interface)\n",
            args.join(", "),
            lower_camel(&f.interface)
        )
        .unwrap();
        writeln!(
            o,
            "// wit{stem}Params are {}'s parameters, in WIT order.",
            f.wit_name
        )
        .unwrap();
        if f.params.is_empty() {
            writeln!(o, "type wit{stem}Params struct{{}}\n").unwrap();
        } else {
            writeln!(o, "type wit{stem}Params struct {{").unwrap();
            let rows: Vec<(String, String)> = f
                .params
                .iter()
                .map(|(n, ty)| (camel(n), go_type(ty)))
                .collect();
            go_fields(&mut o, "\t", &rows);
            writeln!(o, "}}\n").unwrap();
        }
        let recv = if f.params.is_empty() { "" } else { "v " };
        let sink = if f.params.is_empty() {
            "sink"
        } else {
            "s sink"
        };
        writeln!(o, "func ({recv}*wit{stem}Params) lower({sink}) {{").unwrap();
        for (n, ty) in &f.params {
            writeln!(o, "\t{}", go_lower(m, ty, "s", &format!("v.{}", camel(n)))).unwrap();
        }
        writeln!(o, "}}").unwrap();
        let flat: usize = f
            .params
            .iter()
            .map(|(_, t)| go_layout(m, t).flat.len())
            .sum();
        if flat > MAX_FLAT_PARAMS {
            // The parameters as one record, laid out as the canonical ABI does.
            let (mut size, mut align, mut offsets) = (0usize, 1, Vec::new());
            for (_, t) in &f.params {
                let l = go_layout(m, t);
                size = size.div_ceil(l.align) * l.align;
                offsets.push(size);
                size += l.size;
                align = align.max(l.align);
            }
            let size = size.div_ceil(align) * align;
            let allocs: Vec<String> = f
                .params
                .iter()
                .filter_map(|(n, ty)| go_alloc(m, ty, &format!("v.{}", camel(n))))
                .collect();
            let mut puts = vec![format!("a := (*[{size}]byte)(b)")];
            for ((n, ty), off) in f.params.iter().zip(offsets) {
                puts.push(go_put(m, ty, "a", off, &format!("v.{}", camel(n))));
            }
            writeln!(
                o,
                "\n// store writes the parameters (more than maxFlatParams core values) at p,\n// the {size}-byte parameter area the caller allocated.\nfunc (v *wit{stem}Params) store(w *writer, p uint32) {{"
            )
            .unwrap();
            go_store_body(&mut o, &allocs, size, &puts);
            writeln!(o, "}}").unwrap();
        }
        if let Some(ty) = &f.result {
            writeln!(o).unwrap();
            writeln!(
                o,
                "func liftWit{stem}Result(s *source) {} {{\n\treturn {}\n}}",
                go_type(ty),
                go_lift_result(ty)
            )
            .unwrap();
        }
    }

    writeln!(
        o,
        "\n// witFuncs are every exported function, in WIT order."
    )
    .unwrap();
    writeln!(o, "var witFuncs = []*witFunc{{").unwrap();
    for f in &m.functions {
        writeln!(o, "\t{}Fn,", lower_camel(&f.name)).unwrap();
    }
    writeln!(o, "}}").unwrap();

    writeln!(
        o,
        "\n// witLayouts are the layouts wit-parser computes for every type above."
    )
    .unwrap();
    writeln!(o, "var witLayouts = []witLayout{{").unwrap();
    for (ty, l) in &m.layouts {
        let offsets: Vec<String> = l.offsets.iter().map(|x| x.to_string()).collect();
        let offsets = if offsets.is_empty() {
            "nil".to_string()
        } else {
            format!("[]uint32{{{}}}", offsets.join(", "))
        };
        writeln!(
            o,
            "\t{{\"{}\", {}, {}, {}, {offsets}, \"{}\"}},",
            wit_text(ty),
            go_abi(ty),
            l.size,
            l.align,
            flat_text(&l.flat)
        )
        .unwrap();
    }
    writeln!(o, "}}").unwrap();
    writeln!(
        o,
        "\n// witCoreSignatures are the core signatures wit-parser computes."
    )
    .unwrap();
    writeln!(o, "var witCoreSignatures = []witCoreSignature{{").unwrap();
    for f in &m.functions {
        writeln!(
            o,
            "\t{{{}Fn, \"{}\", \"{}\"}},",
            lower_camel(&f.name),
            flat_text(&f.core_params),
            flat_text(&f.core_results)
        )
        .unwrap();
    }
    writeln!(o, "}}").unwrap();
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(wit: &str) -> Result<Model> {
        let dir = std::env::temp_dir().join(format!(
            "xtask-bindings-{}-{:x}",
            std::process::id(),
            wit.len() * 31 + wit.bytes().map(usize::from).sum::<usize>()
        ));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("t.wit"), wit)?;
        let m = Model::load(&dir);
        std::fs::remove_dir_all(&dir)?;
        m
    }

    const HEAD: &str = "package t:t@0.1.0;\n";

    #[test]
    fn unsupported_types_are_refused_where_they_are_used() {
        let err = model(&format!(
            "{HEAD}interface a {{ record r {{ ok: u32, bad: f64 }} f: func(x: r); }}\nworld w {{ export a; }}"
        ))
        .err()
        .unwrap();
        assert!(
            format!("{err:#}").contains("a float (in field `bad` of type `r`)"),
            "{err:#}"
        );
        let err = model(&format!(
            "{HEAD}interface a {{ flags fl {{ x }} f: func(x: fl); }}\nworld w {{ export a; }}"
        ))
        .err()
        .unwrap();
        assert!(
            format!("{err:#}").contains("type `fl` is a flags"),
            "{err:#}"
        );
    }

    #[test]
    fn a_later_name_is_qualified_by_its_interface() {
        let m = model(&format!(
            "{HEAD}interface a {{ record label {{ k: string }} f: func(x: label); }}\n\
             interface b {{ record label {{ v: u64 }} f: func(x: label) -> u64; }}\n\
             world w {{ export b; export a; }}"
        ))
        .unwrap();
        let types: Vec<&str> = m.types.iter().map(|t| t.name.as_str()).collect();
        let functions: Vec<&str> = m.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(types, ["label", "b-label"]);
        assert_eq!(functions, ["f", "b-f"]);
        assert!(python_names(&m).is_ok());
    }

    #[test]
    fn aliases_and_uses_resolve_to_their_definition() {
        let m = model(&format!(
            "{HEAD}interface a {{ enum e {{ x, y }} type handle = u32; }}\n\
             interface b {{ use a.{{e, handle}}; record r {{ h: handle, e: e, o: option<list<e>> }} \
             f: func(r: r) -> result<_, e>; }}\nworld w {{ export a; export b; }}"
        ))
        .unwrap();
        let types: Vec<&str> = m.types.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(types, ["e", "r"]);
        let Def::Record(fields) = &m.types[1].def else {
            panic!()
        };
        assert_eq!(fields[0].1, Ty::U32);
        assert_eq!(
            fields[2].1,
            Ty::Option(Box::new(Ty::List(Box::new(Ty::Named("e".into())))))
        );
        let r = &m.layouts[&Ty::Named("r".into())];
        assert_eq!((r.size, r.align, r.offsets.clone()), (20, 4, vec![0, 4, 8]));
        let f = &m.functions[0];
        assert_eq!(
            (f.core_params.clone(), f.core_results.clone()),
            (vec!["i32"; 5], vec!["i32"])
        );
    }
}
