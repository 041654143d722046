; Rust tags. Definitions capture the name (@name.definition.*) and the whole node (@definition.*).

[
  (struct_item name: (type_identifier) @name.definition.class)
  (enum_item name: (type_identifier) @name.definition.class)
  (union_item name: (type_identifier) @name.definition.class)
  (type_item name: (type_identifier) @name.definition.class)
] @definition.class

(trait_item name: (type_identifier) @name.definition.interface) @definition.interface

(mod_item name: (identifier) @name.definition.module) @definition.module

(function_item name: (identifier) @name.definition.function) @definition.function

(function_signature_item name: (identifier) @name.definition.function) @definition.function

(macro_definition name: (identifier) @name.definition.function) @definition.function

; Functions in an impl or trait body are methods.
(impl_item
  body: (declaration_list
    (function_item name: (identifier) @name.definition.method) @definition.method))

(trait_item
  body: (declaration_list
    [
      (function_item name: (identifier) @name.definition.method)
      (function_signature_item name: (identifier) @name.definition.method)
    ] @definition.method))

[
  (const_item name: (identifier) @name.definition.constant)
  (static_item name: (identifier) @name.definition.constant)
] @definition.constant

; An impl block refers to the type it implements; the outline lists it as an "impl".
(impl_item
  type: [
    (type_identifier) @name.reference.class
    (generic_type type: (type_identifier) @name.reference.class)
    (scoped_type_identifier name: (type_identifier) @name.reference.class)
    (generic_type type: (scoped_type_identifier name: (type_identifier) @name.reference.class))
  ]) @definition.impl

; References.

(call_expression
  function: [
    (identifier) @name.reference.call
    (field_expression field: (field_identifier) @name.reference.call)
    (scoped_identifier name: (identifier) @name.reference.call)
    (generic_function function: (identifier) @name.reference.call)
    (generic_function function: (field_expression field: (field_identifier) @name.reference.call))
    (generic_function function: (scoped_identifier name: (identifier) @name.reference.call))
  ])

(macro_invocation macro: (identifier) @name.reference.call)

(struct_expression name: (type_identifier) @name.reference.class)

; Every type name used; names being defined are dropped by the tag reader.
((type_identifier) @name.reference.class
  (#not-eq? @name.reference.class "Self"))
