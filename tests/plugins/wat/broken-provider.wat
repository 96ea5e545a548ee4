;; Test fixture: a third-party integration provider whose every export traps. A pipeline that
;; needs none of its integrations must plan without ever calling it.
(module
  (@custom "dockwright-manifest" "{\"name\":\"broken-provider\",\"version\":\"0.1.0\",\"api\":\"^1.1\",\"group\":\"integrations\",\"description\":\"Traps on every call (test fixture)\"}")
  (memory (export "memory") 2)
  (global $next (mut i32) (i32.const 65536))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (global.get $next))
  (func (export "dockwright:plugin/catalogue@1.1.0#integrations")
    (param i32 i32 i32 i32 i32 i32) (result i32)
    unreachable)
  (func (export "dockwright:plugin/source@1.1.0#contribute")
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    unreachable)
)
