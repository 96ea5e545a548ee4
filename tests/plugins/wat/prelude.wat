  ;; What every WAT fixture shares (build.rs puts it where a fixture writes `;; @prelude`):
  ;; the canonical ABI's allocator, an empty catalogue, and the answer of a good call.

  ;; A bump allocator over memory 0 from 64 KiB up: the host only copies the request in.
  (global $next (mut i32) (i32.const 65536))
  (func $realloc (export "cabi_realloc")
    (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $at i32)
    (local.set $at
      (i32.and
        (i32.add (global.get $next) (i32.sub (local.get $align) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get $align))))
    (global.set $next (i32.add (local.get $at) (local.get $size)))
    (local.get $at))

  ;; A zeroed return area at 1024 reads as `ok` with empty lists (for `contribute`) and as an
  ;; empty list (for `integrations`).
  (func $empty (result i32) (i32.const 1024))

  ;; `catalogue.integrations(platform)`: six flat parameters (three strings).
  (func (export "dockwright:plugin/catalogue@1.1.0#integrations")
    (param i32 i32 i32 i32 i32 i32) (result i32)
    (call $empty))

  ;; Whether a request's settings (parameters 6 and 7 of `contribute`) are `{}`: a good call,
  ;; answered with an empty contribution so the same runtime can be shown to still serve.
  (func $is_good_call (param $settings_len i32) (result i32)
    (i32.eq (local.get $settings_len) (i32.const 2)))
