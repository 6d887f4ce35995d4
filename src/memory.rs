//! Where the module's writable memory starts: on a page of its own.
//!
//! policy-server evaluates every request in a fresh instance whose linear memory is a
//! copy-on-write image of the module's data, so every 4 KiB page an evaluation writes is a page
//! fault (two when it is read first). What an evaluation writes is one run of memory: the
//! writable statics (waPC's registry, the allocator's state) and after them the heap (the
//! payload, the decoded request, the answer). wasm-ld puts that run right after the read-only
//! data, so where the module's strings happened to end decided whether the run took two pages or
//! three: one or two faults more per evaluation, 0.03× of a compliant puller's ratio to the
//! floor, moved by any change to any message (docs/performance.md, "Pages written").
//!
//! A page-aligned member of `.data` starts the run on a page boundary instead, so it takes the
//! fewest pages its size allows whatever the code before it. It is the first member because the
//! policy's own objects come first on the link line, and a section is as aligned as its most
//! aligned member. The page it fills is never touched, so it costs no fault. `make bench-size`
//! (in `make check`) fails when a compliant puller's evaluation writes more pages than the
//! floor's, so a toolchain that lays the memory out otherwise is caught, not only measured.

use std::sync::atomic::AtomicU8;

/// One page, aligned to a page. Not zero, or it would go to `.bss`, after the statics it must
/// precede; mutable (an atomic), or it would go to the read-only data.
#[repr(C, align(4096))]
struct PageStart(AtomicU8);

#[used]
static PAGE_START: PageStart = PageStart(AtomicU8::new(1));
