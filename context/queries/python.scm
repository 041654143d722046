; Python tags. Definitions capture the name (@name.definition.*) and the whole node (@definition.*).

(class_definition
  name: (identifier) @name.definition.class) @definition.class

; A function directly in a class body is a method, decorated or not.
(class_definition
  body: (block
    (function_definition
      name: (identifier) @name.definition.method) @definition.method))

(class_definition
  body: (block
    (decorated_definition
      definition: (function_definition
        name: (identifier) @name.definition.method) @definition.method)))

(function_definition
  name: (identifier) @name.definition.function) @definition.function

; Module-level UPPER_CASE assignments are constants.
(module
  (expression_statement
    (assignment
      left: (identifier) @name.definition.constant) @definition.constant)
  (#match? @name.definition.constant "^_*[A-Z][A-Z0-9_]*$"))

; References.

(call
  function: [
    (identifier) @name.reference.call
    (attribute attribute: (identifier) @name.reference.call)
  ])

(class_definition
  superclasses: (argument_list
    [
      (identifier) @name.reference.class
      (attribute attribute: (identifier) @name.reference.class)
    ]))

(type (identifier) @name.reference.class)

(type (attribute attribute: (identifier) @name.reference.class))

(generic_type (identifier) @name.reference.class)

(decorator (identifier) @name.reference.call)

(decorator (attribute attribute: (identifier) @name.reference.call))

(decorator (call function: (identifier) @name.reference.call))
