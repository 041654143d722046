; JavaScript tags. Definitions capture the name (@name.definition.*) and the whole node (@definition.*).

[
  (class_declaration name: (identifier) @name.definition.class)
  (class name: (identifier) @name.definition.class)
] @definition.class

(method_definition
  name: [(property_identifier) (private_property_identifier)] @name.definition.method) @definition.method

; Class fields holding functions: `handle = () => {}`.
(field_definition
  property: [(property_identifier) (private_property_identifier)] @name.definition.method
  value: [(arrow_function) (function_expression)]) @definition.method

[
  (function_declaration name: (identifier) @name.definition.function)
  (generator_function_declaration name: (identifier) @name.definition.function)
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

; `exports.f = function () {}` and `Foo.prototype.bar = () => {}`.
(expression_statement
  (assignment_expression
    left: (member_expression property: (property_identifier) @name.definition.function)
    right: [(arrow_function) (function_expression)])) @definition.function

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

(class_heritage (identifier) @name.reference.class)

(class_heritage (member_expression property: (property_identifier) @name.reference.class))

(jsx_opening_element name: (identifier) @name.reference.class
  (#match? @name.reference.class "^[A-Z]"))

(jsx_self_closing_element name: (identifier) @name.reference.class
  (#match? @name.reference.class "^[A-Z]"))
