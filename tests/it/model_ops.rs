//! Random programs of repository operations through faulty storage, checked against the model
//! of `tests/model/mod.rs` after every operation (the fuzz target `model` runs the same model
//! on fuzzer-chosen programs). Programs come from a seeded generator: `ARCA_TORTURE_SEED`
//! replays a run, `ARCA_TORTURE_TRIALS` sets how many programs run (default 6).

use crate::model;

use model::{Fault, FileSpec, Op};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }

    fn fault(&mut self) -> Fault {
        match self.below(10) {
            0 => Fault::StopAt(self.below(12) as u8),
            1 => Fault::Flaky(self.byte()),
            2 => Fault::DropPack,
            3 => Fault::TruncatePack,
            4 => Fault::ListLag,
            5 => Fault::FlipPacks,
            _ => Fault::None,
        }
    }

    fn op(&mut self) -> Op {
        let fault = self.fault();
        match self.below(10) {
            0..=3 => Op::Backup {
                files: (0..1 + self.below(4))
                    .map(|_| FileSpec {
                        slot: self.byte(),
                        seed: self.byte(),
                        len: self.next() as u16,
                        derive: self.below(3) == 0,
                    })
                    .collect(),
                fault,
            },
            4 => Op::Forget { which: self.byte(), fault },
            5 | 6 => Op::Prune { instant: self.below(2) == 0, max_unused_zero: self.below(2) == 0, fault },
            7 => Op::RepairIndex { read_data: self.below(2) == 0, fault },
            8 => Op::Restore { which: self.byte(), fault },
            _ => Op::Check { fault },
        }
    }
}

#[test]
fn random_operation_programs_keep_every_snapshot_whole() {
    let seed: u64 = std::env::var("ARCA_TORTURE_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed);
    let programs: u64 = std::env::var("ARCA_TORTURE_TRIALS").ok().and_then(|v| v.parse().ok()).unwrap_or(6);
    for p in 0..programs {
        let mut rng = Rng((seed ^ (p + 1)).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let ops: Vec<Op> = (0..model::MAX_OPS).map(|_| rng.op()).collect();
        eprintln!("program {p} (seed {seed}): {ops:?}");
        model::run(ops);
    }
}
