;; Hostile fixture: a core module with 16 linear memories (multi-memory) that grows each,
;; round-robin, 12 MiB at a time up to 60 MiB and writes every page. Each stays under a cap per
;; memory (64 MiB or more), which would let it take 16 x 60 MiB of host memory; the sandbox's
;; cap is for the whole instance.
(module
  (@custom "dockwright-manifest" "{\"name\":\"multi-memory\",\"version\":\"0.1.0\",\"api\":\"^1.1\",\"group\":\"requirements\",\"description\":\"Grows 16 memories (test fixture)\"}")
  (memory (export "memory") 2)
  (memory 2)
  (memory 2)
  (memory 2)
  (memory 2)
  (memory 2)
  (memory 2)
  (memory 2)
  (memory 2)
  (memory 2)
  (memory 2)
  (memory 2)
  (memory 2)
  (memory 2)
  (memory 2)
  (memory 2)
  ;; @prelude

  ;; Grows memory k by 12 MiB while it is under 60 MiB (960 pages) and writes every page
  ;; past the first 128 KiB (the request and the return area live there).
  (func $grow0
    (if (i32.lt_u (memory.size 0) (i32.const 960))
      (then
        (drop (memory.grow 0 (i32.const 192)))
        (memory.fill 0 (i32.const 131072) (i32.const 1)
          (i32.sub (i32.mul (memory.size 0) (i32.const 65536)) (i32.const 131072))))))
  (func $grow1
    (if (i32.lt_u (memory.size 1) (i32.const 960))
      (then
        (drop (memory.grow 1 (i32.const 192)))
        (memory.fill 1 (i32.const 131072) (i32.const 1)
          (i32.sub (i32.mul (memory.size 1) (i32.const 65536)) (i32.const 131072))))))
  (func $grow2
    (if (i32.lt_u (memory.size 2) (i32.const 960))
      (then
        (drop (memory.grow 2 (i32.const 192)))
        (memory.fill 2 (i32.const 131072) (i32.const 1)
          (i32.sub (i32.mul (memory.size 2) (i32.const 65536)) (i32.const 131072))))))
  (func $grow3
    (if (i32.lt_u (memory.size 3) (i32.const 960))
      (then
        (drop (memory.grow 3 (i32.const 192)))
        (memory.fill 3 (i32.const 131072) (i32.const 1)
          (i32.sub (i32.mul (memory.size 3) (i32.const 65536)) (i32.const 131072))))))
  (func $grow4
    (if (i32.lt_u (memory.size 4) (i32.const 960))
      (then
        (drop (memory.grow 4 (i32.const 192)))
        (memory.fill 4 (i32.const 131072) (i32.const 1)
          (i32.sub (i32.mul (memory.size 4) (i32.const 65536)) (i32.const 131072))))))
  (func $grow5
    (if (i32.lt_u (memory.size 5) (i32.const 960))
      (then
        (drop (memory.grow 5 (i32.const 192)))
        (memory.fill 5 (i32.const 131072) (i32.const 1)
          (i32.sub (i32.mul (memory.size 5) (i32.const 65536)) (i32.const 131072))))))
  (func $grow6
    (if (i32.lt_u (memory.size 6) (i32.const 960))
      (then
        (drop (memory.grow 6 (i32.const 192)))
        (memory.fill 6 (i32.const 131072) (i32.const 1)
          (i32.sub (i32.mul (memory.size 6) (i32.const 65536)) (i32.const 131072))))))
  (func $grow7
    (if (i32.lt_u (memory.size 7) (i32.const 960))
      (then
        (drop (memory.grow 7 (i32.const 192)))
        (memory.fill 7 (i32.const 131072) (i32.const 1)
          (i32.sub (i32.mul (memory.size 7) (i32.const 65536)) (i32.const 131072))))))
  (func $grow8
    (if (i32.lt_u (memory.size 8) (i32.const 960))
      (then
        (drop (memory.grow 8 (i32.const 192)))
        (memory.fill 8 (i32.const 131072) (i32.const 1)
          (i32.sub (i32.mul (memory.size 8) (i32.const 65536)) (i32.const 131072))))))
  (func $grow9
    (if (i32.lt_u (memory.size 9) (i32.const 960))
      (then
        (drop (memory.grow 9 (i32.const 192)))
        (memory.fill 9 (i32.const 131072) (i32.const 1)
          (i32.sub (i32.mul (memory.size 9) (i32.const 65536)) (i32.const 131072))))))
  (func $grow10
    (if (i32.lt_u (memory.size 10) (i32.const 960))
      (then
        (drop (memory.grow 10 (i32.const 192)))
        (memory.fill 10 (i32.const 131072) (i32.const 1)
          (i32.sub (i32.mul (memory.size 10) (i32.const 65536)) (i32.const 131072))))))
  (func $grow11
    (if (i32.lt_u (memory.size 11) (i32.const 960))
      (then
        (drop (memory.grow 11 (i32.const 192)))
        (memory.fill 11 (i32.const 131072) (i32.const 1)
          (i32.sub (i32.mul (memory.size 11) (i32.const 65536)) (i32.const 131072))))))
  (func $grow12
    (if (i32.lt_u (memory.size 12) (i32.const 960))
      (then
        (drop (memory.grow 12 (i32.const 192)))
        (memory.fill 12 (i32.const 131072) (i32.const 1)
          (i32.sub (i32.mul (memory.size 12) (i32.const 65536)) (i32.const 131072))))))
  (func $grow13
    (if (i32.lt_u (memory.size 13) (i32.const 960))
      (then
        (drop (memory.grow 13 (i32.const 192)))
        (memory.fill 13 (i32.const 131072) (i32.const 1)
          (i32.sub (i32.mul (memory.size 13) (i32.const 65536)) (i32.const 131072))))))
  (func $grow14
    (if (i32.lt_u (memory.size 14) (i32.const 960))
      (then
        (drop (memory.grow 14 (i32.const 192)))
        (memory.fill 14 (i32.const 131072) (i32.const 1)
          (i32.sub (i32.mul (memory.size 14) (i32.const 65536)) (i32.const 131072))))))
  (func $grow15
    (if (i32.lt_u (memory.size 15) (i32.const 960))
      (then
        (drop (memory.grow 15 (i32.const 192)))
        (memory.fill 15 (i32.const 131072) (i32.const 1)
          (i32.sub (i32.mul (memory.size 15) (i32.const 65536)) (i32.const 131072))))))

  (func (export "dockwright:plugin/source@1.1.0#contribute")
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (local $round i32)
    (if (call $is_good_call (local.get 7)) (then (return (call $empty))))
    ;; 5 rounds of 12 MiB reach 60 MiB in every memory: 960 MiB in all, uncapped.
    (loop $rounds
        (call $grow0)
        (call $grow1)
        (call $grow2)
        (call $grow3)
        (call $grow4)
        (call $grow5)
        (call $grow6)
        (call $grow7)
        (call $grow8)
        (call $grow9)
        (call $grow10)
        (call $grow11)
        (call $grow12)
        (call $grow13)
        (call $grow14)
        (call $grow15)
      (local.set $round (i32.add (local.get $round) (i32.const 1)))
      (br_if $rounds (i32.lt_u (local.get $round) (i32.const 5))))
    (call $empty))
)
