//! The differential corpus: the sequence of worlds that the differential and
//! sensitivity tests judge, so that both always look at the same requests.
//!
//! World `i` has seed `base + i` and sizes that cycle, so that
//! single-account worlds, worlds without roles or sub-workspaces, and larger
//! ones all occur.

use crate::world::{World, WorldParams};

/// The corpus's default base seed.
pub const DEFAULT_SEED: u64 = 0x6d73_706c;

/// Requests per world (the last world may have fewer).
pub const REQUESTS_PER_WORLD: usize = 500;

/// The sizes of world `i`, with `requests` requests.
pub fn world_params(i: u64, requests: usize) -> WorldParams {
    let i = i as usize;
    WorldParams {
        accounts: 1 + i % 4,
        min_sub_workspaces: 0,
        max_sub_workspaces: i % 5,
        users_per_account: 1 + i % 6,
        roles_per_account: i % 3,
        models: 1 + i % 7,
        requests,
    }
}

/// The worlds of the corpus, `total` requests in all, generated lazily.
pub fn worlds(base_seed: u64, total: usize) -> impl Iterator<Item = World> {
    let count = total.div_ceil(REQUESTS_PER_WORLD) as u64;
    (0..count).map(move |i| {
        let requests = REQUESTS_PER_WORLD.min(total - i as usize * REQUESTS_PER_WORLD);
        World::generate(base_seed.wrapping_add(i), &world_params(i, requests))
    })
}
