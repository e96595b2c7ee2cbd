// An augmented interval tree of closed intervals [start, last] (a treap ordered by start, each
// node caching the largest `last` below it). Mirrors include/linux/interval_tree.h as used by the
// mmu_interval_notifier itree: insert, remove, and "visit every node overlapping [start, last]"
// in O(log n + k). Priorities come from a counter hash, so shapes are deterministic.

export class IntervalNode {
  start = 0;
  last = 0;
  /** Whether the node is linked into a tree (the kernel's !RB_EMPTY_NODE). */
  inTree = false;
  left: IntervalNode | null = null;
  right: IntervalNode | null = null;
  subtreeLast = 0;
  priority = 0;
}

function hashPriority(n: number): number {
  let z = Math.imul(n ^ (n >>> 16), 0x7feb352d);
  z = Math.imul(z ^ (z >>> 15), 0x846ca68b);
  return (z ^ (z >>> 16)) >>> 0;
}

function fix(n: IntervalNode): void {
  let m = n.last;
  if (n.left !== null && n.left.subtreeLast > m) m = n.left.subtreeLast;
  if (n.right !== null && n.right.subtreeLast > m) m = n.right.subtreeLast;
  n.subtreeLast = m;
}

export type OverlapVisitor<N, C> = (node: N, ctx: C) => void;

export class IntervalTree<N extends IntervalNode> {
  root: N | null = null;
  size = 0;
  private counter = 1;

  insert(node: N): void {
    node.left = null;
    node.right = null;
    node.subtreeLast = node.last;
    node.priority = hashPriority(this.counter++);
    node.inTree = true;
    this.root = this.insertAt(this.root, node) as N;
    this.size++;
  }

  private insertAt(t: IntervalNode | null, node: IntervalNode): IntervalNode {
    if (t === null) return node;
    if (node.start < t.start) {
      t.left = this.insertAt(t.left, node);
      if (t.left.priority > t.priority) t = rotateRight(t);
    } else {
      t.right = this.insertAt(t.right, node);
      if (t.right.priority > t.priority) t = rotateLeft(t);
    }
    fix(t);
    return t;
  }

  remove(node: N): void {
    if (!node.inTree) throw new Error('interval-tree: removing a node that is not in the tree');
    this.root = this.removeAt(this.root, node) as N | null;
    node.inTree = false;
    node.left = null;
    node.right = null;
    this.size--;
  }

  private removeAt(t: IntervalNode | null, node: IntervalNode): IntervalNode | null {
    if (t === null) throw new Error('interval-tree: node not found');
    if (t === node) return merge(t.left, t.right);
    // Equal starts may sit on either side after rotations: search by identity there.
    if (node.start < t.start) t.left = this.removeAt(t.left, node);
    else if (node.start > t.start) t.right = this.removeAt(t.right, node);
    else if (contains(t.left, node)) t.left = this.removeAt(t.left, node);
    else t.right = this.removeAt(t.right, node);
    fix(t);
    return t;
  }

  /** Calls `visit` for every node with start <= last && node.last >= start, in start order. The
   *  tree must not change during the walk (the itree defers changes while invalidating). */
  visitOverlaps<C>(start: number, last: number, visit: OverlapVisitor<N, C>, ctx: C): void {
    visitAt(this.root, start, last, visit as OverlapVisitor<IntervalNode, C>, ctx);
  }

  /** First overlapping node in start order, or null (interval_tree_iter_first). */
  iterFirst(start: number, last: number): N | null {
    return firstAt(this.root, start, last) as N | null;
  }

  /** Checks the BST order, heap order and the cached subtreeLast; throws on disagreement. */
  check(): void {
    let count = 0;
    const walk = (t: IntervalNode | null, lo: number, hi: number): number => {
      if (t === null) return -1;
      if (!t.inTree) throw new Error('interval-tree: linked node not marked inTree');
      if (t.start < lo || t.start > hi) throw new Error('interval-tree: order violated');
      count++;
      const l = walk(t.left, lo, t.start);
      const r = walk(t.right, t.start, hi);
      const m = Math.max(t.last, l, r);
      if (m !== t.subtreeLast) throw new Error('interval-tree: stale subtreeLast');
      if ((t.left && t.left.priority > t.priority) || (t.right && t.right.priority > t.priority)) {
        throw new Error('interval-tree: heap order violated');
      }
      return m;
    };
    walk(this.root, -Infinity, Infinity);
    if (count !== this.size) throw new Error(`interval-tree: size ${this.size} but ${count} nodes linked`);
  }
}

function contains(t: IntervalNode | null, node: IntervalNode): boolean {
  if (t === null) return false;
  return t === node || contains(t.left, node) || contains(t.right, node);
}

function rotateRight(t: IntervalNode): IntervalNode {
  const l = t.left as IntervalNode;
  t.left = l.right;
  l.right = t;
  fix(t);
  fix(l);
  return l;
}

function rotateLeft(t: IntervalNode): IntervalNode {
  const r = t.right as IntervalNode;
  t.right = r.left;
  r.left = t;
  fix(t);
  fix(r);
  return r;
}

function merge(a: IntervalNode | null, b: IntervalNode | null): IntervalNode | null {
  if (a === null) return b;
  if (b === null) return a;
  if (a.priority > b.priority) {
    a.right = merge(a.right, b);
    fix(a);
    return a;
  }
  b.left = merge(a, b.left);
  fix(b);
  return b;
}

function visitAt<C>(t: IntervalNode | null, start: number, last: number,
  visit: OverlapVisitor<IntervalNode, C>, ctx: C): void {
  while (t !== null) {
    if (t.subtreeLast < start) return;
    if (t.left !== null) visitAt(t.left, start, last, visit, ctx);
    if (t.start > last) return;
    if (t.last >= start) visit(t, ctx);
    t = t.right;
  }
}

function firstAt(t: IntervalNode | null, start: number, last: number): IntervalNode | null {
  while (t !== null) {
    if (t.subtreeLast < start) return null;
    if (t.left !== null && t.left.subtreeLast >= start) {
      const f = firstAt(t.left, start, last);
      if (f !== null) return f;
    }
    if (t.start > last) return null;
    if (t.last >= start) return t;
    t = t.right;
  }
  return null;
}
