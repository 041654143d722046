; Go tags. Definitions capture the name (@name.definition.*) and the whole node (@definition.*).

(package_clause (package_identifier) @name.definition.module) @definition.module

(function_declaration name: (identifier) @name.definition.function) @definition.function

(method_declaration name: (field_identifier) @name.definition.method) @definition.method

(type_spec
  name: (type_identifier) @name.definition.interface
  type: (interface_type)) @definition.interface

; Any other named type is a class (an interface matches both; the tag reader keeps "interface").
(type_spec name: (type_identifier) @name.definition.class) @definition.class

(type_alias name: (type_identifier) @name.definition.class) @definition.class

(method_elem name: (field_identifier) @name.definition.method) @definition.method

(source_file
  (const_declaration
    (const_spec name: (identifier) @name.definition.constant) @definition.constant))

; References.

(call_expression
  function: [
    (identifier) @name.reference.call
    (parenthesized_expression (identifier) @name.reference.call)
    (selector_expression field: (field_identifier) @name.reference.call)
    (parenthesized_expression (selector_expression field: (field_identifier) @name.reference.call))
    (generic_type type: (type_identifier) @name.reference.call)
  ])

; Every type name used but the predeclared ones (py-tree-sitter 0.26 ignores #not-any-of?, hence the
; regex); names being defined are dropped by the tag reader.
((type_identifier) @name.reference.class
  (#not-match? @name.reference.class
    "^(any|bool|byte|comparable|complex64|complex128|error|float32|float64|int|int8|int16|int32|int64|rune|string|uint|uint8|uint16|uint32|uint64|uintptr)$"))
