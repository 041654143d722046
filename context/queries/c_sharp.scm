; C# tags. Definitions capture the name (@name.definition.*) and the whole node (@definition.*).

[
  (namespace_declaration name: [(identifier) (qualified_name)] @name.definition.module)
  (file_scoped_namespace_declaration name: [(identifier) (qualified_name)] @name.definition.module)
] @definition.module

[
  (class_declaration name: (identifier) @name.definition.class)
  (struct_declaration name: (identifier) @name.definition.class)
  (record_declaration name: (identifier) @name.definition.class)
  (enum_declaration name: (identifier) @name.definition.class)
  (delegate_declaration name: (identifier) @name.definition.class)
] @definition.class

(interface_declaration name: (identifier) @name.definition.interface) @definition.interface

[
  (method_declaration name: (identifier) @name.definition.method)
  (constructor_declaration name: (identifier) @name.definition.method)
  (destructor_declaration name: (identifier) @name.definition.method)
] @definition.method

(local_function_statement name: (identifier) @name.definition.function) @definition.function

(field_declaration
  (modifier) @_const
  (variable_declaration (variable_declarator name: (identifier) @name.definition.constant))
  (#eq? @_const "const")) @definition.constant

(enum_member_declaration name: (identifier) @name.definition.constant) @definition.constant

; References.

(invocation_expression
  function: [
    (identifier) @name.reference.call
    (generic_name (identifier) @name.reference.call)
    (member_access_expression name: (identifier) @name.reference.call)
    (member_access_expression name: (generic_name (identifier) @name.reference.call))
  ])

; A static call names its class: `Math.Max(a, b)`.
(invocation_expression
  function: (member_access_expression expression: (identifier) @name.reference.class)
  (#match? @name.reference.class "^[A-Z]"))

(object_creation_expression
  type: [
    (identifier) @name.reference.class
    (generic_name (identifier) @name.reference.class)
    (qualified_name name: (identifier) @name.reference.class)
  ])

(base_list
  [
    (identifier) @name.reference.class
    (generic_name (identifier) @name.reference.class)
    (qualified_name name: (identifier) @name.reference.class)
  ])

(parameter type: (identifier) @name.reference.class)

(parameter type: (generic_name (identifier) @name.reference.class))

(method_declaration returns: (identifier) @name.reference.class)

(method_declaration returns: (generic_name (identifier) @name.reference.class))

(variable_declaration type: (identifier) @name.reference.class)

(variable_declaration type: (generic_name (identifier) @name.reference.class))

(property_declaration type: (identifier) @name.reference.class)

(property_declaration type: (generic_name (identifier) @name.reference.class))

(type_argument_list (identifier) @name.reference.class)

(type_parameter_constraint (type (identifier) @name.reference.class))
