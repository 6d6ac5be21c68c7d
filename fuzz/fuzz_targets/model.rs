//! Model-based fuzzing: the fuzzer's bytes decoded (with `arbitrary`) as a program of
//! repository operations, run and checked by the model shared with `tests/it/model_ops.rs`
//! (see `tests/it/model/mod.rs` for the operations, the faults and the invariants).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/it/model/mod.rs"]
mod model;

fuzz_target!(|ops: Vec<model::Op>| model::run(ops));
