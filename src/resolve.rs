//! Resolving packages against their registries and recommending upgrades.
//! (Being filled in by the resolve/recommend work.)
