; C++ tags. Definitions capture the name (@name.definition.*) and the whole node (@definition.*).

(namespace_definition name: [(namespace_identifier) (nested_namespace_specifier)] @name.definition.module) @definition.module

[
  (class_specifier name: (type_identifier) @name.definition.class body: (_))
  (struct_specifier name: (type_identifier) @name.definition.class body: (_))
  (union_specifier name: (type_identifier) @name.definition.class body: (_))
  (enum_specifier name: (type_identifier) @name.definition.class body: (_))
  (type_definition declarator: (type_identifier) @name.definition.class)
  (alias_declaration name: (type_identifier) @name.definition.class)
] @definition.class

; Functions, with a pointer or reference return type or not.
(function_definition
  declarator: [
    (function_declarator declarator: (identifier) @name.definition.function)
    (pointer_declarator declarator: (function_declarator declarator: (identifier) @name.definition.function))
    (reference_declarator (function_declarator declarator: (identifier) @name.definition.function))
  ]) @definition.function

(declaration
  declarator: [
    (function_declarator declarator: (identifier) @name.definition.function)
    (pointer_declarator declarator: (function_declarator declarator: (identifier) @name.definition.function))
    (reference_declarator (function_declarator declarator: (identifier) @name.definition.function))
  ]) @definition.function

; Methods: defined or declared in a class body, or defined outside it as `Class::name`.
(field_declaration_list
  (function_definition
    declarator: [
      (function_declarator
        declarator: [(identifier) (field_identifier) (destructor_name) (operator_name)] @name.definition.method)
      (pointer_declarator declarator: (function_declarator declarator: (field_identifier) @name.definition.method))
      (reference_declarator (function_declarator declarator: (field_identifier) @name.definition.method))
    ]) @definition.method)

(field_declaration_list
  (field_declaration
    declarator: [
      (function_declarator
        declarator: [(identifier) (field_identifier) (destructor_name) (operator_name)] @name.definition.method)
      (pointer_declarator declarator: (function_declarator declarator: (field_identifier) @name.definition.method))
      (reference_declarator (function_declarator declarator: (field_identifier) @name.definition.method))
    ]) @definition.method)

(field_declaration_list
  (declaration
    declarator: [
      (function_declarator
        declarator: [(identifier) (field_identifier) (destructor_name) (operator_name)] @name.definition.method)
      (pointer_declarator declarator: (function_declarator declarator: (field_identifier) @name.definition.method))
      (reference_declarator (function_declarator declarator: (field_identifier) @name.definition.method))
    ]) @definition.method)

(function_definition
  declarator: [
    (function_declarator
      declarator: (qualified_identifier
        name: [(identifier) (destructor_name) (operator_name)] @name.definition.method))
    (pointer_declarator
      declarator: (function_declarator
        declarator: (qualified_identifier name: (identifier) @name.definition.method)))
    (reference_declarator
      (function_declarator
        declarator: (qualified_identifier name: (identifier) @name.definition.method)))
  ]) @definition.method

(preproc_function_def name: (identifier) @name.definition.function) @definition.function

(preproc_def name: (identifier) @name.definition.constant) @definition.constant

(enumerator name: (identifier) @name.definition.constant) @definition.constant

; References.

(call_expression
  function: [
    (identifier) @name.reference.call
    (field_expression field: (field_identifier) @name.reference.call)
    (qualified_identifier name: (identifier) @name.reference.call)
    (template_function name: (identifier) @name.reference.call)
    (qualified_identifier name: (template_function name: (identifier) @name.reference.call))
  ])

(new_expression type: (type_identifier) @name.reference.class)

; Every type name used; names being defined are dropped by the tag reader.
(type_identifier) @name.reference.class

; `double Polygon::area()` defined outside the class uses the class.
(function_declarator
  declarator: (qualified_identifier scope: (namespace_identifier) @name.reference.class))
