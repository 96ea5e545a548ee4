;; Hostile fixture: `table.grow` in a loop, a million elements at a time, to a billion: the
;; host allocates each table element (8 GB uncapped), so tables count in the instance's
;; memory budget.
(module
  (@custom "dockwright-manifest" "{\"name\":\"table-grow\",\"version\":\"0.1.0\",\"api\":\"^1.1\",\"group\":\"requirements\",\"description\":\"Grows a table without end (test fixture)\"}")
  (memory (export "memory") 2)
  (table $t 0 funcref)
  ;; @prelude

  (func (export "dockwright:plugin/source@1.1.0#contribute")
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (local $round i32)
    (if (call $is_good_call (local.get 7)) (then (return (call $empty))))
    (loop $grow
      ;; -1 (refused) is ignored: a hostile plugin just asks again.
      (drop (table.grow $t (ref.null func) (i32.const 1000000)))
      (local.set $round (i32.add (local.get $round) (i32.const 1)))
      (br_if $grow (i32.lt_u (local.get $round) (i32.const 1000))))
    (call $empty))
)
