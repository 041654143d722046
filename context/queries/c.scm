; C tags. Definitions capture the name (@name.definition.*) and the whole node (@definition.*).

[
  (struct_specifier name: (type_identifier) @name.definition.class body: (_))
  (union_specifier name: (type_identifier) @name.definition.class body: (_))
  (enum_specifier name: (type_identifier) @name.definition.class body: (_))
  (type_definition declarator: (type_identifier) @name.definition.class)
] @definition.class

; Function definitions, with up to two levels of pointer in the return type.
(function_definition
  declarator: [
    (function_declarator declarator: (identifier) @name.definition.function)
    (pointer_declarator declarator: (function_declarator declarator: (identifier) @name.definition.function))
    (pointer_declarator declarator: (pointer_declarator
      declarator: (function_declarator declarator: (identifier) @name.definition.function)))
  ]) @definition.function

; Prototypes, which are what a header defines.
(declaration
  declarator: [
    (function_declarator declarator: (identifier) @name.definition.function)
    (pointer_declarator declarator: (function_declarator declarator: (identifier) @name.definition.function))
    (pointer_declarator declarator: (pointer_declarator
      declarator: (function_declarator declarator: (identifier) @name.definition.function)))
  ]) @definition.function

(preproc_function_def name: (identifier) @name.definition.function) @definition.function

(preproc_def name: (identifier) @name.definition.constant) @definition.constant

(enumerator name: (identifier) @name.definition.constant) @definition.constant

; References.

(call_expression
  function: [
    (identifier) @name.reference.call
    (field_expression field: (field_identifier) @name.reference.call)
  ])

; Every type name used; names being defined are dropped by the tag reader.
(type_identifier) @name.reference.class
