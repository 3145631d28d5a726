import tseslint from 'typescript-eslint';

export default tseslint.config({ ignores: ['node_modules/', 'coverage/'] }, ...tseslint.configs.recommended, {
  rules: {
    '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    eqeqeq: ['error', 'always'],
    'no-console': 'off',
  },
});
