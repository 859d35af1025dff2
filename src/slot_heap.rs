//! A min-heap of times, one per slot (a connection's index in its event loop), where a
//! slot's time can be moved or removed in O(log n): each slot knows where it sits. The
//! loop keeps two: connections by deadline (it sleeps until the first) and quiet
//! connections by when they became quiet (the first makes room at the limit). Smaller
//! than a BTreeSet by several kilobytes of code, which the image's size bound counts.

use std::time::Instant;

const ABSENT: usize = usize::MAX;

#[derive(Default)]
pub struct SlotHeap {
    heap: Vec<(Instant, usize)>,
    /// Where each slot's entry is in `heap`, or ABSENT.
    positions: Vec<usize>,
}

impl SlotHeap {
    /// The earliest time and its slot.
    pub fn first(&self) -> Option<(Instant, usize)> {
        self.heap.first().copied()
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Gives `slot` the time `at`, whether or not it had one.
    pub fn set(&mut self, slot: usize, at: Instant) {
        if slot >= self.positions.len() {
            self.positions.resize(slot + 1, ABSENT);
        }
        let i = match self.positions[slot] {
            ABSENT => {
                self.heap.push((at, slot));
                self.heap.len() - 1
            }
            i => {
                self.heap[i].0 = at;
                i
            }
        };
        self.positions[slot] = i;
        let i = self.sift_up(i);
        self.sift_down(i);
    }

    pub fn remove(&mut self, slot: usize) {
        let Some(&i) = self.positions.get(slot).filter(|&&i| i != ABSENT) else {
            return;
        };
        let last = self.heap.len() - 1;
        self.swap(i, last);
        self.heap.pop();
        self.positions[slot] = ABSENT;
        if i < self.heap.len() {
            let i = self.sift_up(i);
            self.sift_down(i);
        }
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.positions[self.heap[a].1] = a;
        self.positions[self.heap[b].1] = b;
    }

    fn sift_up(&mut self, mut i: usize) -> usize {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.heap[parent].0 <= self.heap[i].0 {
                break;
            }
            self.swap(i, parent);
            i = parent;
        }
        i
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let mut least = i;
            for child in [2 * i + 1, 2 * i + 2] {
                if child < self.heap.len() && self.heap[child].0 < self.heap[least].0 {
                    least = child;
                }
            }
            if least == i {
                return;
            }
            self.swap(i, least);
            i = least;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::time::Duration;

    /// Random sets, moves and removals agree with an ordered set at every step.
    #[test]
    fn agrees_with_an_ordered_set() {
        let t0 = Instant::now();
        let mut rng = fastrand::Rng::with_seed(7);
        let mut heap = SlotHeap::default();
        let mut model: BTreeSet<(Instant, usize)> = BTreeSet::new();
        let mut times: Vec<Option<Instant>> = vec![None; 50];
        for _ in 0..20_000 {
            let slot = rng.usize(..50);
            if rng.u8(..4) == 0 {
                heap.remove(slot);
                if let Some(t) = times[slot].take() {
                    model.remove(&(t, slot));
                }
            } else {
                let at = t0 + Duration::from_millis(rng.u64(..1000));
                heap.set(slot, at);
                if let Some(t) = times[slot].replace(at) {
                    model.remove(&(t, slot));
                }
                model.insert((at, slot));
            }
            assert_eq!(heap.len(), model.len());
            assert_eq!(heap.first().map(|f| f.0), model.first().map(|f| f.0));
            if let Some((at, slot)) = heap.first() {
                assert_eq!(times[slot], Some(at), "the first names its own slot");
            }
        }
    }

    #[test]
    fn removing_what_is_absent_does_nothing() {
        let mut heap = SlotHeap::default();
        heap.remove(3);
        let t = Instant::now();
        heap.set(3, t);
        heap.remove(4);
        assert_eq!(heap.first(), Some((t, 3)));
        heap.remove(3);
        assert_eq!(heap.first(), None);
    }
}
