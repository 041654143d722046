; TypeScript tags (tsx.scm inherits these). Definitions capture the name (@name.definition.*) and the
; whole node (@definition.*).

[
  (class_declaration name: (type_identifier) @name.definition.class)
  (abstract_class_declaration name: (type_identifier) @name.definition.class)
  (class name: (type_identifier) @name.definition.class)
  (enum_declaration name: (identifier) @name.definition.class)
  (type_alias_declaration name: (type_identifier) @name.definition.class)
] @definition.class

(interface_declaration name: (type_identifier) @name.definition.interface) @definition.interface

[
  (internal_module name: [(identifier) (nested_identifier) (string)] @name.definition.module)
  (module name: [(identifier) (nested_identifier) (string)] @name.definition.module)
] @definition.module

[
  (method_definition name: [(property_identifier) (private_property_identifier)] @name.definition.method)
  (method_signature name: [(property_identifier) (private_property_identifier)] @name.definition.method)
  (abstract_method_signature name: [(property_identifier) (private_property_identifier)] @name.definition.method)
] @definition.method

; Class fields holding functions: `handle = () => {}`.
(public_field_definition
  name: [(property_identifier) (private_property_identifier)] @name.definition.method
  value: [(arrow_function) (function_expression)]) @definition.method

[
  (function_declaration name: (identifier) @name.definition.function)
  (generator_function_declaration name: (identifier) @name.definition.function)
  (function_signature name: (identifier) @name.definition.function)
] @definition.function

; `const f = () => {}` and `var f = function () {}`.
[
  (lexical_declaration
    (variable_declarator
      name: (identifier) @name.definition.function
      value: [(arrow_function) (function_expression) (generator_function)]))
  (variable_declaration
    (variable_declarator
      name: (identifier) @name.definition.function
      value: [(arrow_function) (function_expression) (generator_function)]))
] @definition.function

; Top-level UPPER_CASE constants.
(program
  (lexical_declaration
    (variable_declarator
      name: (identifier) @name.definition.constant)) @definition.constant
  (#match? @name.definition.constant "^_*[A-Z][A-Z0-9_]*$"))

(export_statement
  declaration: (lexical_declaration
    (variable_declarator
      name: (identifier) @name.definition.constant)) @definition.constant
  (#match? @name.definition.constant "^_*[A-Z][A-Z0-9_]*$"))

; References.

(call_expression
  function: [
    (identifier) @name.reference.call
    (member_expression property: [(property_identifier) (private_property_identifier)] @name.reference.call)
  ]
  (#not-eq? @name.reference.call "require"))

(new_expression
  constructor: [
    (identifier) @name.reference.class
    (member_expression property: (property_identifier) @name.reference.class)
  ])

(extends_clause value: (identifier) @name.reference.class)

(extends_clause value: (member_expression property: (property_identifier) @name.reference.class))

; Every type name used; names that are being defined are dropped by the tag reader.
(type_identifier) @name.reference.class
