;; Hostile fixture: grows its memory (1 MiB, every page written) and its table (65,536
;; elements) in turn, a hundred times: each stays under 128 MiB, so a cap per memory and one
;; per table would both let it through; the instance's one budget counts them together.
(module
  (@custom "dockwright-manifest" "{\"name\":\"memory-and-table\",\"version\":\"0.1.0\",\"api\":\"^1.1\",\"group\":\"requirements\",\"description\":\"Grows memory and a table in turn (test fixture)\"}")
  (memory (export "memory") 2)
  (table $t 0 funcref)
  ;; @prelude

  (func (export "dockwright:plugin/source@1.1.0#contribute")
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (local $round i32)
    (local $old i32)
    (if (call $is_good_call (local.get 7)) (then (return (call $empty))))
    (loop $grow
      (local.set $old (memory.grow (i32.const 16)))
      (if (i32.ge_s (local.get $old) (i32.const 0))
        (then
          (memory.fill (i32.mul (local.get $old) (i32.const 65536)) (i32.const 1)
            (i32.const 1048576))))
      (drop (table.grow $t (ref.null func) (i32.const 65536)))
      (local.set $round (i32.add (local.get $round) (i32.const 1)))
      (br_if $grow (i32.lt_u (local.get $round) (i32.const 100))))
    (call $empty))
)
