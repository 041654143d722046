; Java tags. Definitions capture the name (@name.definition.*) and the whole node (@definition.*).

[
  (class_declaration name: (identifier) @name.definition.class)
  (enum_declaration name: (identifier) @name.definition.class)
  (record_declaration name: (identifier) @name.definition.class)
] @definition.class

[
  (interface_declaration name: (identifier) @name.definition.interface)
  (annotation_type_declaration name: (identifier) @name.definition.interface)
] @definition.interface

[
  (method_declaration name: (identifier) @name.definition.method)
  (constructor_declaration name: (identifier) @name.definition.method)
  (compact_constructor_declaration name: (identifier) @name.definition.method)
] @definition.method

(module_declaration [(identifier) (scoped_identifier)] @name.definition.module) @definition.module

; UPPER_CASE fields are constants.
(field_declaration
  declarator: (variable_declarator name: (identifier) @name.definition.constant)
  (#match? @name.definition.constant "^_*[A-Z][A-Z0-9_]*$")) @definition.constant

(enum_constant name: (identifier) @name.definition.constant) @definition.constant

; References.

(method_invocation name: (identifier) @name.reference.call)

(object_creation_expression
  type: [
    (type_identifier) @name.reference.class
    (generic_type (type_identifier) @name.reference.class)
    (scoped_type_identifier (type_identifier) @name.reference.class .)
  ])

; Every type name used; names being defined are dropped by the tag reader.
(type_identifier) @name.reference.class

; A static call names its class: `Totals.sum(lines)`.
(method_invocation
  object: (identifier) @name.reference.class
  (#match? @name.reference.class "^[A-Z]"))
